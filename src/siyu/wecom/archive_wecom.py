"""The real 会话存档 feed: Tencent's ``libWeWorkFinanceSdk_C.so`` through ctypes. Optional.

Nothing imports this module unless an organization's ``SIYU_ARCHIVE_SOURCE`` is ``wecom_sdk``; the tests and
the demo use the simulator's feed. docs/archive.md explains installing the SDK and the settings:

* ``SIYU_ARCHIVE_SDK_LIB``: path of ``libWeWorkFinanceSdk_C.so`` (default: the name, found by the loader);
* ``SIYU_ARCHIVE_SECRET``: the 会话存档 Secret (not the app's secret);
* ``SIYU_ARCHIVE_PRIVATE_KEYS``: the RSA private key(s) whose public halves were uploaded to WeCom, as
  ``/path/key.pem`` (any version) or ``1:/path/v1.pem,2:/path/v2.pem`` (by ``publickey_ver``);
* ``SIYU_ARCHIVE_PROXY``, ``SIYU_ARCHIVE_PROXY_PASSWORD``, ``SIYU_ARCHIVE_TIMEOUT`` (seconds, default 30).

Each may be one value for every organization or a JSON object by organization slug (see
:func:`siyu.wecom.archive.org_setting`).

The pipeline is the SDK's (reference §4.1): ``GetChatData`` returns ``chatdata[{seq, msgid, publickey_ver,
encrypt_random_key, encrypt_chat_msg}]``; we RSA-decrypt ``encrypt_random_key`` (PKCS#1 v1.5) with the key of
that version, and the SDK's ``DecryptData`` turns ``encrypt_chat_msg`` into the plaintext message JSON (its
cipher is unpublished). A message that cannot be decrypted is kept as ``msgtype`` ``undecryptable`` with the
reason, so one bad message never stalls the cursor.
"""

from __future__ import annotations

import base64
import ctypes
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from siyu.wecom.archive import ArchiveError, ArchiveMessage, ArchiveSource, ArchiveSourceUnavailable, org_setting

# SDK error codes (reference §4.1); 10001–10003 are worth retrying.
SDK_ERRORS = {
    10000: "参数错误", 10001: "网络错误", 10002: "数据解析失败", 10003: "系统失败", 10004: "密钥错误导致加密失败",
    10005: "fileid错误", 10006: "解密失败", 10007: "找不到消息加密版本的私钥", 10008: "解析encrypt_key出错",
    10009: "ip非法", 10010: "数据过期", 10011: "证书错误",
}
RETRYABLE = frozenset({10001, 10002, 10003})
DEFAULT_LIBRARY = "libWeWorkFinanceSdk_C.so"
ANY_VERSION = 0
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f]")


def _sdk_error(errcode: int, call: str) -> ArchiveError:
    return ArchiveError(f"{call}: {SDK_ERRORS.get(errcode, 'unknown error')}", errcode)


class FinanceSdk:
    """The C library's calls we need, with ctypes signatures from ``WeWorkFinanceSdk_C.h``."""

    def __init__(self, library: str, corp_id: str, secret: str):
        try:
            lib = ctypes.CDLL(library)
        except OSError as error:
            raise ArchiveSourceUnavailable(f"cannot load the 会话存档 SDK {library!r}: {error}") from None
        p, c = ctypes.c_void_p, ctypes.c_char_p
        for name, restype, argtypes in (
            ("NewSdk", p, []),
            ("Init", ctypes.c_int, [p, c, c]),
            ("GetChatData", ctypes.c_int, [p, ctypes.c_ulonglong, ctypes.c_uint, c, c, ctypes.c_int, p]),
            ("DecryptData", ctypes.c_int, [c, c, p]),
            ("DestroySdk", None, [p]),
            ("NewSlice", p, []),
            ("FreeSlice", None, [p]),
            ("GetContentFromSlice", p, [p]),
            ("GetSliceLen", ctypes.c_int, [p]),
        ):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        self._lib = lib
        self._sdk = lib.NewSdk()
        errcode = lib.Init(self._sdk, corp_id.encode(), secret.encode())
        if errcode != 0:
            self.close()
            raise _sdk_error(errcode, "Init")

    def _with_slice(self, call: str, invoke) -> bytes:
        chunk = self._lib.NewSlice()
        try:
            errcode = invoke(chunk)
            if errcode != 0:
                raise _sdk_error(errcode, call)
            # The slice's buffer is not NUL-terminated: read exactly its length.
            return ctypes.string_at(self._lib.GetContentFromSlice(chunk), self._lib.GetSliceLen(chunk))
        finally:
            self._lib.FreeSlice(chunk)

    def get_chat_data(self, seq: int, limit: int, proxy: str, password: str, timeout: int) -> bytes:
        return self._with_slice("GetChatData", lambda chunk: self._lib.GetChatData(
            self._sdk, seq, limit, proxy.encode(), password.encode(), timeout, chunk))

    def decrypt_data(self, random_key: bytes, encrypted: str) -> bytes:
        return self._with_slice("DecryptData", lambda chunk: self._lib.DecryptData(random_key, encrypted.encode(), chunk))

    def close(self) -> None:
        if getattr(self, "_sdk", None):
            self._lib.DestroySdk(self._sdk)
            self._sdk = None


def load_private_keys(spec: str) -> dict[int, rsa.RSAPrivateKey]:
    """``/path.pem`` (any version) or ``1:/path/v1.pem,2:/path/v2.pem``: unencrypted PEM, PKCS#1 or PKCS#8."""
    keys: dict[int, rsa.RSAPrivateKey] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = re.fullmatch(r"(\d+):(.+)", part)
        version, path = (int(match[1]), match[2]) if match else (ANY_VERSION, part)
        try:
            key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as error:
            raise ArchiveSourceUnavailable(f"cannot read the archive private key {path!r}: {error}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ArchiveSourceUnavailable(f"{path!r} is not an RSA private key")
        keys[version] = key
    return keys


class WeComSdkArchiveSource(ArchiveSource):
    """:class:`~siyu.wecom.archive.ArchiveSource` over the SDK. ``sdk`` is a :class:`FinanceSdk` (or, in tests,
    anything with its ``get_chat_data``/``decrypt_data``/``close``)."""

    def __init__(self, sdk, private_keys: dict[int, rsa.RSAPrivateKey], *, proxy: str = "", proxy_password: str = "",
                 timeout: int = 30):
        self.sdk = sdk
        self.private_keys = private_keys
        self.proxy, self.proxy_password, self.timeout = proxy, proxy_password, timeout

    @classmethod
    def for_org(cls, org, conn) -> WeComSdkArchiveSource:
        secret = org_setting("SIYU_ARCHIVE_SECRET", org)
        keys = org_setting("SIYU_ARCHIVE_PRIVATE_KEYS", org)
        if not secret or not keys:
            raise ArchiveSourceUnavailable(
                f"{org.slug}: wecom_sdk needs SIYU_ARCHIVE_SECRET and SIYU_ARCHIVE_PRIVATE_KEYS (docs/archive.md)"
            )
        private_keys = load_private_keys(str(keys))
        sdk = FinanceSdk(str(org_setting("SIYU_ARCHIVE_SDK_LIB", org, DEFAULT_LIBRARY)), conn.corp_id, str(secret))
        return cls(
            sdk, private_keys, proxy=str(org_setting("SIYU_ARCHIVE_PROXY", org, "")),
            proxy_password=str(org_setting("SIYU_ARCHIVE_PROXY_PASSWORD", org, "")),
            timeout=int(org_setting("SIYU_ARCHIVE_TIMEOUT", org, 30)),
        )

    def fetch(self, seq: int, limit: int) -> list[ArchiveMessage]:
        raw = self.sdk.get_chat_data(seq, limit, self.proxy, self.proxy_password, self.timeout)
        try:
            data = json.loads(raw)
        except ValueError:
            raise ArchiveError("GetChatData answered something that is not JSON") from None
        if int(data.get("errcode") or 0):
            raise ArchiveError(str(data.get("errmsg") or ""), int(data["errcode"]))
        return [
            ArchiveMessage(int(item["seq"]), str(item.get("msgid") or ""), self.decrypt(item))
            for item in data.get("chatdata") or []
        ]

    def decrypt(self, item: dict) -> dict:
        """The plaintext message of one ``chatdata`` entry, or an ``undecryptable`` stand-in saying why."""
        version = int(item.get("publickey_ver") or 0)
        key = self.private_keys.get(version) or self.private_keys.get(ANY_VERSION)
        try:
            if key is None:
                raise _sdk_error(10007, f"publickey_ver {version}")
            random_key = key.decrypt(base64.b64decode(item["encrypt_random_key"]), padding.PKCS1v15())
            plaintext = self.sdk.decrypt_data(random_key, item["encrypt_chat_msg"])
            # Raw control characters inside strings make the SDK's JSON invalid (go-wecom strips them too).
            message = json.loads(_CONTROL_BYTES.sub(b"", plaintext))
            if not isinstance(message, dict):
                raise ValueError("the decrypted message is not a JSON object")
            return message
        except (ArchiveError, KeyError, TypeError, ValueError) as error:
            return {"msgid": item.get("msgid", ""), "msgtype": "undecryptable", "error": str(error)[:500]}

    def close(self) -> None:
        self.sdk.close()
