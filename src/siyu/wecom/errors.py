"""WeCom API errors as typed exceptions, each with a plain-language hint saying what to do.

WeCom answers HTTP 200 with ``{"errcode": …, "errmsg": …}``; :func:`error_for` turns a non-zero errcode into
the matching exception class so callers catch what they can handle (``except RateLimited``) instead of
comparing numbers. The codes and their meanings are those of the shared reference (§3.1, §3.5, §3.14).
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

__all__ = [
    "InvalidCredentials",
    "InvalidParameter",
    "NotConnected",
    "NotExternalContact",
    "PermissionDenied",
    "RateLimited",
    "SystemBusy",
    "TokenInvalid",
    "WeComError",
    "WeComNetworkError",
    "WelcomeAlreadySent",
    "WelcomeBeingSent",
    "WelcomeCodeInvalid",
    "as_validation_error",
    "error_for",
    "REFRESH_TOKEN_CODES",
    "BACKOFF_CODES",
]

# A business call answered with one of these: the token is stale, fetch a new one and retry once.
REFRESH_TOKEN_CODES = frozenset({40014, 42001, 40001})
# Busy or throttled: worth retrying after a pause.
BACKOFF_CODES = frozenset({45009, 45033, -1})


class WeComError(Exception):
    """WeCom refused a call. ``errcode``/``errmsg`` are WeCom's; ``hint`` says what to do about it."""

    default_hint = _("请稍后重试；如果持续失败，请在企业微信开发者工具中按错误码查询原因。")

    def __init__(self, errcode: int | None, errmsg: str = "", endpoint: str = "", hint=None):
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint
        self._hint = hint
        super().__init__(f"{endpoint or 'wecom'}: errcode {errcode}: {errmsg}")

    @property
    def hint(self) -> str:
        return str(self._hint if self._hint is not None else self.default_hint)


class WeComNetworkError(WeComError):
    """No usable answer: connection refused, timeout, TLS failure, or a reply that is not WeCom's JSON."""

    default_hint = _("无法连接企业微信接口：请检查服务器网络、代理设置和“接口地址”是否正确。")

    def __init__(self, message: str, endpoint: str = ""):
        super().__init__(None, message, endpoint)


class NotConnected(WeComError):
    """The organization has no active WeCom connection yet."""

    default_hint = _("请先在“设置 → 企业微信”中填写企业ID、应用 AgentId 和 Secret。")

    def __init__(self, org=None):
        super().__init__(None, f"organization {getattr(org, 'slug', org)!r} is not connected to WeCom")


class TokenInvalid(WeComError):
    """The access_token is missing, expired or was revoked (or, on gettoken, the secret is wrong)."""

    default_hint = _("access_token 已失效，系统会自动重新获取；如果持续出现，请检查应用 Secret。")


class InvalidCredentials(WeComError):
    """gettoken refused the corp id or the secret: the connection settings are wrong."""

    default_hint = _("企业ID或应用 Secret 不正确，请在企业微信管理后台核对后重新填写。")


class RateLimited(WeComError):
    """Too many calls (WeCom's 45009/45033, or our own per-corp window). Try again after ``retry_after`` seconds."""

    default_hint = _("调用过于频繁，已触发企业微信频率限制，请稍后再试。")

    def __init__(self, errcode, errmsg="", endpoint="", hint=None, retry_after: float = 60.0):
        super().__init__(errcode, errmsg, endpoint, hint)
        self.retry_after = retry_after


class SystemBusy(WeComError):
    """WeCom's -1: system busy, try again later."""

    default_hint = _("企业微信系统繁忙，请稍后重试。")


class PermissionDenied(WeComError):
    """The app may not call this API, from this IP, or on these members."""

    default_hint = _("应用没有调用该接口的权限，请检查应用的权限与可见范围。")


class NotExternalContact(WeComError):
    """84061: the member has no such customer (the customer deleted them, or never added them)."""

    default_hint = _("该成员与此客户不是好友关系（客户可能已删除成员），无需重试。")


class InvalidParameter(WeComError):
    """A parameter was rejected: fix the data, retrying the same request cannot help."""

    default_hint = _("请求参数不合法，请检查填写的内容。")


class WelcomeAlreadySent(WeComError):
    """41051: the customer already started chatting or the welcome code was used; do not retry."""

    default_hint = _("客户已开始聊天或欢迎语已发送，该欢迎语不会再发送，无需重试。")


class WelcomeBeingSent(WeComError):
    """41096: another app is sending the welcome message now; it may still fail, so a retry may help."""

    default_hint = _("其他应用正在发送欢迎语，可稍后重试一次。")


class WelcomeCodeInvalid(WeComError):
    """41050: the welcome code is invalid or its 20 seconds are over; the welcome can no longer be sent."""

    default_hint = _("欢迎语的 20 秒有效期已过或欢迎码无效，该欢迎语不会再发送，无需重试。")


# errcode → (class, hint). Every code in the reference's error list, plus gettoken's own.
_ERRORS: dict[int, tuple[type[WeComError], object]] = {
    -1: (SystemBusy, _("企业微信系统繁忙，请稍后重试。")),
    40001: (TokenInvalid, _("access_token 无效，系统会自动重新获取；如果持续出现，请检查应用 Secret 是否已重置。")),
    40003: (InvalidParameter, _("成员账号（userid）不存在或不在应用可见范围内，请先同步通讯录后再试。")),
    40013: (InvalidCredentials, _("企业ID（CorpID）不正确：请到企业微信管理后台“我的企业 → 企业信息”页底部复制企业ID。")),
    40014: (TokenInvalid, _("access_token 无效，系统会自动重新获取。")),
    40058: (InvalidParameter, _("参数不合法：请检查必填项、长度和格式。")),
    40068: (InvalidParameter, _("标签ID不存在，可能已在企业微信中删除，请先同步标签。")),
    40071: (InvalidParameter, _("标签名称已存在，请换一个名称。")),
    40091: (InvalidCredentials, _("应用 Secret 不正确：请在“应用管理 → 自建应用”中查看 Secret 并重新填写。")),
    40096: (InvalidParameter, _("外部联系人ID（external_userid）不合法，可能属于其他企业或已失效。")),
    41001: (TokenInvalid, _("请求缺少 access_token，系统会自动重新获取。")),
    41050: (WelcomeCodeInvalid, _("欢迎语的 20 秒有效期已过或欢迎码无效，该欢迎语不会再发送，无需重试。")),
    41051: (WelcomeAlreadySent, _("客户已开始聊天或欢迎语已发送，该欢迎语不会再发送，无需重试。")),
    41096: (WelcomeBeingSent, _("其他应用正在发送欢迎语，可稍后重试一次。")),
    42001: (TokenInvalid, _("access_token 已过期，系统会自动重新获取。")),
    45009: (RateLimited, _("接口调用超过企业微信的频率限制，请等待一分钟后再试。")),
    45033: (RateLimited, _("接口并发调用超过限制，请稍后再试。")),
    48002: (PermissionDenied, _(
        "应用没有调用该接口的权限：请在企业微信管理后台“客户联系 → 客户 → API”中，"
        "把本应用加入“可调用接口的应用”。"
    )),
    60011: (PermissionDenied, _("应用对该成员、部门或标签没有权限：请在应用的“可见范围”中加入相关成员或部门。")),
    60020: (PermissionDenied, _(
        "服务器IP不在企业可信IP中：请在“应用管理 → 自建应用 → 企业可信IP”中加入本服务器的出口IP。"
    )),
    40007: (InvalidParameter, _("素材已失效（临时素材 media_id 只有 3 天有效期），需要重新上传。")),
    40126: (InvalidParameter, _("企业标签已达企业微信的上限（每个企业最多 3000 个），请先删除不再使用的标签。")),
    40130: (InvalidParameter, _("原跟进成员与接替成员不能是同一人。")),
    40131: (InvalidParameter, _("该客户不是原跟进成员的客户，可能已被删除或转接。")),
    41041: (InvalidParameter, _("「联系我」的使用成员超过 100 人（部门成员也计算在内），请减少成员或部门。")),
    41044: (InvalidParameter, _("该「联系我」在企业微信中已不存在（config_id 无效）。")),
    41054: (InvalidParameter, _("成员尚未激活企业微信（从未登录过），不能用于「联系我」，请让其先登录企业微信。")),
    41055: (InvalidParameter, _("入群欢迎语素材已达上限（100 个），请先删除不再使用的素材。")),
    41091: (InvalidParameter, _("一个加入群聊二维码最多关联 5 个群。")),
    45029: (InvalidParameter, _("返回数据过大：通讯录较大时请按部门逐个拉取成员。")),
    49008: (InvalidParameter, _("客户群已解散。")),
    81011: (PermissionDenied, _("企业微信只允许创建标签的应用修改或删除该标签，请在企业微信管理后台修改。")),
    81017: (InvalidParameter, _("应用可见范围过大，请按群主分批查询（owner_filter）。")),
    84074: (PermissionDenied, _("成员没有客户联系权限：请在企业微信管理后台“客户联系 → 权限配置”中为其开通。")),
    84061: (NotExternalContact, _("该成员与此客户不是好友关系（客户可能已删除成员），无需重试。")),
    301002: (PermissionDenied, _("成员没有接口许可（仅第三方/代开发应用需要），请为成员购买并激活接口许可。")),
}

# How long WeCom keeps refusing after a throttle: a hit blocks the rest of the minute window.
_RETRY_AFTER = {45009: 60.0, 45033: 1.0}

_GETTOKEN_40001 = _("应用 Secret 不正确：请在“应用管理 → 自建应用”中查看 Secret 并重新填写（注意不要复制多余空格）。")


def error_for(errcode: int, errmsg: str = "", endpoint: str = "") -> WeComError:
    """The exception for a WeCom errcode; unknown codes give a plain :class:`WeComError`."""
    if errcode == 40001 and endpoint == "gettoken":
        # On gettoken 40001 means the secret itself is wrong, not a stale token.
        return InvalidCredentials(errcode, errmsg, endpoint, _GETTOKEN_40001)
    cls, hint = _ERRORS.get(errcode, (WeComError, None))
    if cls is RateLimited:
        return RateLimited(errcode, errmsg, endpoint, hint, retry_after=_RETRY_AFTER[errcode])
    return cls(errcode, errmsg, endpoint, hint)


def as_validation_error(error: WeComError, what: str = "", *, field: str = NON_FIELD_ERRORS) -> ValidationError:
    """The form / API error for a WeCom refusal: what could not be done, WeCom's hint and its errcode.

    ``what`` completes "企业微信未能…" (e.g. ``_("创建联系我方式")``); ``field`` puts the message on a form field
    when the refusal is about one. Every console form and API handler shows WeCom errors through this.
    """
    if isinstance(error, NotConnected):
        message = gettext("尚未连接企业微信：%(hint)s") % {"hint": error.hint}
    else:
        code = gettext("（错误码 %(code)s）") % {"code": error.errcode} if error.errcode is not None else ""
        if what:
            message = gettext("企业微信未能%(what)s：%(hint)s%(code)s") % {"what": what, "hint": error.hint, "code": code}
        else:
            message = gettext("企业微信拒绝了操作：%(hint)s%(code)s") % {"hint": error.hint, "code": code}
    return ValidationError({field: [message]})
