"""The ``state`` that WeCom echoes back on an add or a join (「联系我」 and 「加入群聊」): how Siyu attributes a new
customer to a channel. One set of rules for every kind of code."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable

from django.utils.translation import gettext as _

STATE_MAX = 30  # WeCom: a contact way's or a join way's state is at most 30 characters
_ALLOWED = re.compile(r"^[A-Za-z0-9_.\-]+$")


def state_error(state: str) -> str | None:
    """Why ``state`` cannot be used (too long for WeCom, or characters that do not survive URLs), or None."""
    if len(state) > STATE_MAX:
        return _("渠道参数最多 %(max)d 个字符（企业微信的限制），当前 %(n)d 个。") % {"max": STATE_MAX, "n": len(state)}
    if not _ALLOWED.match(state):
        return _("渠道参数只能包含字母、数字、下划线、短横线和点。")
    return None


def random_state(prefix: str, taken: Callable[[str], bool]) -> str:
    """``prefix`` and ten random letters and digits that ``taken`` does not know yet."""
    alphabet = string.ascii_lowercase + string.digits
    while True:
        state = prefix + "".join(secrets.choice(alphabet) for _ in range(10))
        if not taken(state):
            return state
