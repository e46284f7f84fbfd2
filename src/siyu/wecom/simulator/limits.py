"""Configurable WeCom limits and the per-corp, per-API rate limiter.

Several limits in the reference are product rules from third-party sources
or change over time (§7), so each is a field here that a test or the demo
can lower or raise instead of a constant buried in a handler.
"""

from __future__ import annotations

import calendar
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

GROUPMSG_CAP_MODES = ("month", "week7", "day1")
JSAPI_TICKET_PER_APP = "get_jsapi_ticket (per app)"
CHINA = timezone(timedelta(hours=8))  # WeCom's days, weeks and months are Beijing time


@dataclass
class Limits:
    # DOC 90454: per corp, per API.
    api_per_minute: int = 10_000
    api_per_hour: int = 150_000
    # Endpoint-specific quotas on top (moments: 10 tasks/min; tickets: DOC 90506).
    per_api_minute: dict[str, int] = field(default_factory=lambda: {"externalcontact/add_moment_task": 10})
    # DOC 90506 (JS-SDK): the corp jsapi_ticket "一小时内，一个企业最多可获取400次，且单个应用不能超过100次";
    # the app ticket (ticket/get) 100 an hour per app. The per-app share of get_jsapi_ticket has its own key,
    # counted by the handler with the app's id (the simulator has one app, so that is the bound that bites).
    per_api_hour: dict[str, int] = field(default_factory=lambda: {
        "get_jsapi_ticket": 400, JSAPI_TICKET_PER_APP: 100, "ticket/get": 100})
    token_ttl: int = 7200
    # DOC 90506: "jsapi_ticket的有效期为7200秒" (both tickets).
    ticket_ttl: int = 7200
    # DOC 91023 (获取访问用户身份): "code只能使用一次，5分钟未被使用自动过期".
    oauth_code_ttl: int = 300
    welcome_code_ttl: int = 20
    # Joining by QR code stops at 200 members; invitations up to the external-group cap of 500 (§3.13).
    group_qr_cap: int = 200
    group_max_members: int = 500
    # Per customer / group receive cap for 企业群发: "month" = days in month, "week7", or "day1" (§3.6).
    groupmsg_receive_cap: str = "month"
    transfer_wait_seconds: int = 24 * 3600
    transfer_max_per_90_days: int = 2
    max_corp_tags: int = 3000
    # add_moment_task is asynchronous: get_moment_task_result reports "creating" for this long.
    moment_task_seconds: int = 2
    # Reference §3.10/§7: whether WeCom caps how many moments one customer is shown a day is unverified, so it
    # is a switch: when N > 0, a customer already shown N moments that (Beijing) day does not see another one.
    moment_customer_daily_cap: int = 0
    # Doc 92120: without owner_filter, an app whose visible range holds more than 1,000 people gets 81017.
    groupchat_list_unfiltered_max: int = 1000
    # Doc 90313 (45029 回包大小超过上限): "由于通讯录组织架构庞大，建议按部门分别拉取，同时不要指定fetch_child=1".
    # WeCom does not publish the size; this member count stands in for it.
    fetch_child_max_users: int = 5000
    # Notice of 2022-06-20: apps created after it get no mobile, avatar, gender or email from user/get, user/list.
    app_created_after_2022_06_20: bool = True
    # Doc 90970: for callback URLs set after 2022-08-15, change_contact member events carry only UserID and
    # Department (the event goes to the contact-sync assistant, agency-built and shared upstream apps).
    callback_set_after_2022_08_15: bool = True
    # Doc 90253: a media_id from media/upload is valid for three days, then 40007.
    media_ttl: int = 3 * 86400
    # Unverified behaviours (docs/simulator.md), each a switch so Siyu can be tested against both answers:
    # externalcontact/get answering 84061 for this long after add_external_contact (community reports; 0 = never).
    not_contact_after_add: float = 0.0
    # Whether update_contact_way without skip_verify keeps the current value (True) or resets it to the default.
    update_keeps_skip_verify: bool = True
    # What groupchat/get answers for a dismissed group: 90501 (chat is not external group chat) or 49008 (群已经解散).
    dismissed_group_errcode: int = 90501

    def update(self, **changes) -> None:
        """Set fields by name, refusing unknown names (the control API passes user input here)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        if changes.get("dismissed_group_errcode", self.dismissed_group_errcode) not in (90501, 49008):
            raise ValueError("dismissed_group_errcode must be 90501 or 49008")
        if changes.get("groupmsg_receive_cap", self.groupmsg_receive_cap) not in GROUPMSG_CAP_MODES:
            raise ValueError(f"groupmsg_receive_cap must be one of {GROUPMSG_CAP_MODES}")
        for name, value in changes.items():
            setattr(self, name, value)


class RateLimiter:
    """Fixed minute and hour windows per API on the simulator clock.

    WeCom blocks the rest of the window once a limit is hit (a minute limit
    for up to 60 s, an hour limit for up to 60 min); fixed windows give that
    behaviour. Only calls that were let through are counted. Not locked: the
    simulator calls it under its own lock.
    """

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._counts: dict[tuple[str, str, int], int] = {}

    def allow(self, api: str, now: float) -> bool:
        limits = self._limits
        windows = [
            ((api, "m", int(now // 60)), min(limits.api_per_minute, limits.per_api_minute.get(api, limits.api_per_minute))),
            ((api, "h", int(now // 3600)), min(limits.api_per_hour, limits.per_api_hour.get(api, limits.api_per_hour))),
        ]
        if any(self._counts.get(key, 0) >= cap for key, cap in windows):
            return False
        if len(self._counts) > 4096:  # drop closed windows now and then
            current = {key for key, _ in windows}
            self._counts = {k: v for k, v in self._counts.items() if k in current or k[0] != api}
        for key, _ in windows:
            self._counts[key] = self._counts.get(key, 0) + 1
        return True


def receive_cap(limits: Limits, now: float) -> int:
    """How many 企业群发 messages one customer or group may receive in the current period."""
    if limits.groupmsg_receive_cap == "month":
        day = datetime.fromtimestamp(now, CHINA)
        return calendar.monthrange(day.year, day.month)[1]
    return 7 if limits.groupmsg_receive_cap == "week7" else 1


def start_of_day(now: float) -> float:
    """Midnight (Beijing time) of the day ``now`` falls in."""
    return datetime.fromtimestamp(now, CHINA).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def receipts_in_period(state, limits: Limits, target: str, now: float) -> int:
    """Messages ``target`` (external_userid or chat_id) already received in the current month/week/day."""
    day = datetime.fromtimestamp(now, CHINA).replace(hour=0, minute=0, second=0, microsecond=0)
    if limits.groupmsg_receive_cap == "month":
        start = day.replace(day=1)
    elif limits.groupmsg_receive_cap == "week7":
        start = day - timedelta(days=day.weekday())
    else:
        start = day
    return sum(1 for t in state.groupmsg_receipts.get(target, []) if t >= start.timestamp())
