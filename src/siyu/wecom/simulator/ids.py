"""Identifiers that look like WeCom's own.

Siyu stores these ids and sometimes validates their shape, so the simulator
mints them in the same alphabets and lengths the reference shows
(``wm…`` customers, ``wr…`` chats, ``et…`` tags, 32-hex config ids), never
sequential numbers that would hide length or charset bugs.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

_ALNUM = string.ascii_letters + string.digits
_URLSAFE = _ALNUM + "-_"


def _random(length: int, alphabet: str = _URLSAFE) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def external_userid() -> str:
    """A WeChat customer's id: ``wm`` + 30 url-safe chars (e.g. ``wmg1VWEAAA0rH4CifU7k1nmRhaPXpEdg``)."""
    return "wm" + _random(30)


def chat_id() -> str:
    """A customer group id: ``wr`` + 30 url-safe chars."""
    return "wr" + _random(30)


def tag_id() -> str:
    """A corp tag or tag-group id: ``et`` + 30 url-safe chars (groups share the prefix in WeCom)."""
    return "et" + _random(30)


def config_id() -> str:
    """A 「联系我」/join-way config id: 32 lowercase hex chars."""
    return secrets.token_hex(16)


def welcome_code() -> str:
    """A url-safe welcome code, 43 chars like the real ``gaxUyJS4_BWO8yuWMGZm_…``."""
    return secrets.token_urlsafe(32)[:43]


def access_token() -> str:
    """An access token (WeCom's are opaque, ≤512 bytes)."""
    return secrets.token_urlsafe(96)


def ticket() -> str:
    return secrets.token_urlsafe(64)


def oauth_code() -> str:
    """An OAuth code: opaque, url-safe, 43 chars like the welcome code (WeCom's are of that kind)."""
    return secrets.token_urlsafe(32)[:43]


def openid() -> str:
    """A WeChat user's openid as WeCom's OAuth hands it for people outside the corp (``o`` + 27 chars)."""
    return "o" + _random(27)


def msgid() -> str:
    """A group-message task id: ``msg`` + 25 alphanumerics (like ``msgGCAAAXtWyujaWJHDDGi0mAAAA``)."""
    return "msg" + _random(25, _ALNUM)


def jobid() -> str:
    return secrets.token_urlsafe(24)


def moment_id() -> str:
    return "mom" + _random(29, _ALNUM)


def app_msgid() -> str:
    return secrets.token_urlsafe(48)


def archive_msgid() -> str:
    """Archive message ids are base64 of 23 bytes (``CAQQluDa4QUY0On2rYSAgAMgzPrShAE=``)."""
    return base64.b64encode(secrets.token_bytes(23)).decode("ascii")


def qr_code_url() -> str:
    """WeCom answers a hosted image URL; the simulator does not serve it."""
    return f"https://wework.qpic.cn/wwpic/{secrets.token_hex(12)}/0"


def media_id() -> str:
    """A temporary media id (media/upload): ``3`` + 60 url-safe chars, like the real ``3a8asd892asd8asd…``."""
    return "3" + _random(60)


def image_url() -> str:
    """The permanent URL media/uploadimg answers (the sample's ``http://p.qpic.cn/pic_wework/…/0``)."""
    return f"http://p.qpic.cn/pic_wework/{secrets.randbelow(9_000_000_000) + 1_000_000_000}/{secrets.token_hex(20)}/0"


def nonce() -> str:
    return str(secrets.randbelow(9_000_000_000) + 1_000_000_000)


def hint(now: float) -> str:
    """The ``hint: [...]`` request id WeCom puts in every error message."""
    return f"{int(now)}_{secrets.randbelow(200) + 100}_{secrets.token_hex(16)}"


def member_version(member_ids: list[str]) -> str:
    """A group's member-list hash (``member_version``/``CurMemVer``): md5 of the sorted ids."""
    return hashlib.md5("|".join(sorted(member_ids)).encode("utf-8")).hexdigest()


def moment_media_id(source: str) -> str:
    """The permanent id get_moment_list gives a moment's image or video (``WWCISP_…``), derived from the uploaded
    media_id so every read of the same moment answers the same id."""
    return "WWCISP_" + base64.urlsafe_b64encode(hashlib.sha256(source.encode()).digest()).decode().rstrip("=")[:40]
