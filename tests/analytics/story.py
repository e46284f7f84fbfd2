"""A seeded month of customer acquisition played on the WeCom simulator, and the statistics it should produce,
computed independently from the simulator's own records (its callback delivery log and its chat archive).

The story: customers scan three channel codes (round-robin over their staff), some write to their staff member
and get a reply (or not), some staff greet first, some customers delete the staff member, some staff delete the
customer, one customer is handed to another staff member (在职转接), and a few customers are added without a
channel. Every callback reaches Siyu's callback URL and is processed by the dispatcher as it happens, the way a
running worker would; the chat archive is then pulled into ``ChatMessage`` rows by Siyu's archive sync.
"""

from __future__ import annotations

import heapq
import itertools
import random
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from defusedxml.ElementTree import fromstring
from django.test import Client
from django.utils import timezone

from siyu.core.dispatch import dispatch_once
from siyu.orgs.models import Staff
from siyu.wecom.archive import fetch_archive
from siyu.wecom.client import WeComClient
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread

SH = ZoneInfo("Asia/Shanghai")
CORP_ID = "ww5c0a1b2c3d4e5f60"
SECRET = "analytics-story-secret"
AGENT_ID = "1000002"
DAY = 86400
# channel state → the staff its code rotates over
CODES = {
    "tea_sakura": ["alice", "carol"],        # the tea-shop partner's cups and counters (seed 002)
    "poster_e1": ["alice", "bob"],           # the store poster
    "ad_douyin": ["bob", "carol", "dave"],   # a paid ad
}
STORY_DAYS = 36


def local_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, SH).date()


class Corp:
    """An organization wired to a simulator on a loopback port; callbacks go through Siyu's real callback view."""

    def __init__(self, org, start: float):
        self.org = org
        token, aes_key = generate_token(), generate_encoding_aes_key()
        self.sim = Simulator(
            CORP_ID, SECRET, AGENT_ID, token, aes_key, f"http://testserver/wecom/callback/{org.slug}/",
            clock=SimClock(start, frozen=True), deliver=self._deliver,
        )
        base, self.stop = run_in_thread(self.sim)
        WeComConnection.objects.create(
            org=org, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET, callback_token=token,
            encoding_aes_key=aes_key, api_base=f"{base}/cgi-bin/",
        )
        forget_cryptor(org.slug)
        self.http = Client()
        self.statuses: list[int] = []
        self.scanned: set[tuple[str, str]] = set()  # (external_userid, userid) of adds through a channel code

    def _deliver(self, url: str, params: dict, body: bytes) -> int:
        path = urllib.parse.urlsplit(url).path
        status = self.http.post(f"{path}?{urllib.parse.urlencode(params)}", body, content_type="text/xml").status_code
        self.statuses.append(status)
        return status

    def process(self) -> None:
        while dispatch_once():
            pass

    def staff(self, userid: str, store, membership=None) -> Staff:
        self.sim.add_staff(userid, f"员工{userid}")
        self.process()
        staff = Staff.objects.for_org(self.org).get(userid=userid)
        staff.store, staff.membership, staff.is_customer_contact = store, membership, True
        staff.save(update_fields=["store", "membership", "is_customer_contact"])
        return staff

    def api(self, path: str, body: dict) -> dict:
        with WeComClient.for_org(self.org) as client:
            return client.post(path, body)

    def contact_way(self, state: str, users: list[str]) -> str:
        answer = self.api("externalcontact/add_contact_way",
                          {"type": 2, "scene": 2, "state": state, "user": users, "skip_verify": True})
        return answer["config_id"]

    def fetch_archive(self) -> int:
        """Pull the simulator's chat archive into ChatMessage rows through Siyu's own archive sync."""
        return fetch_archive(self.org)


# -- the story ------------------------------------------------------------------------------------------------
def play(corp: Corp, *, seed: int, start: float, days: int = STORY_DAYS) -> dict:
    """Play ``days`` days from ``start`` (a Beijing midnight); returns counts of what happened, for sanity checks."""
    rng = random.Random(seed)
    sim = corp.sim
    queue: list[tuple[float, int, str, tuple]] = []
    order = itertools.count()

    def later(at: float, action: str, *args) -> None:
        heapq.heappush(queue, (at, next(order), action, args))

    for day in range(days):
        midnight = start + day * DAY
        for _ in range(rng.randint(2, 5)):
            later(midnight + rng.uniform(0, DAY), "scan", rng.choice(sorted(CODES)))
        for _ in range(rng.choices([0, 1, 2], [5, 4, 1])[0]):
            later(midnight + rng.uniform(0, DAY), "customer_deletes")
        if rng.random() < 0.45:
            later(midnight + rng.uniform(0, DAY), "staff_deletes")
        if rng.random() < 0.15:
            later(midnight + rng.uniform(0, DAY), "no_channel_add")
        if day == days // 2:
            later(midnight + rng.uniform(0, DAY / 2), "transfer")
        # a few adds just before and after Beijing midnight, where UTC and Beijing days differ
        if day % 9 == 4:
            later(midnight + DAY - rng.uniform(1, 120), "scan", rng.choice(sorted(CODES)))
            later(midnight + DAY + rng.uniform(1, 120), "scan", rng.choice(sorted(CODES)))

    happened: dict[str, int] = defaultdict(int)
    end = start + days * DAY
    while queue and queue[0][0] < end:
        at, _, action, args = heapq.heappop(queue)
        if at > sim.now():
            sim.advance(at - sim.now())
        delivered = len(corp.statuses)
        if _act(corp, rng, action, args, later):
            happened[action] += 1
        if len(corp.statuses) != delivered:  # chats call nothing back: nothing to process
            corp.process()
    if end > sim.now():
        sim.advance(end - sim.now())
    corp.process()
    happened["chat_messages"] = corp.fetch_archive()
    return dict(happened)


def _active(sim) -> list[dict]:
    return [r for r in sim.choices()["relations"] if r["status"] == "active"]


def _act(corp: Corp, rng: random.Random, action: str, args: tuple, later) -> bool:
    sim = corp.sim
    now = sim.now()
    if action == "scan":
        added = sim.scan(state=args[0])
        ext, userid = added["external_userid"], added["userid"]
        corp.scanned.add((ext, userid))
        if rng.random() < 0.25:  # the staff member greets first: not a reply, nothing has been asked yet
            later(now + rng.uniform(10, 600), "staff_says", ext, userid)
        if rng.random() < 0.65:
            asked = now + rng.uniform(30, 3 * 3600)
            later(asked, "customer_says", ext, userid)
            if rng.random() < 0.75:
                later(asked + rng.uniform(5, 8 * 3600), "staff_says", ext, userid)
            if rng.random() < 0.3:
                later(asked + rng.uniform(60, 600), "customer_says", ext, userid)
        return True
    if action in ("customer_says", "staff_says"):
        live = {(r["external_userid"], r["userid"]) for r in _active(sim)}
        if args not in live:
            return False  # they are no longer friends
        sim.chat(args[0], "请问这款香薰还有货吗？" if action == "customer_says" else "有的，马上为您安排～",
                 userid=args[1], from_staff=action == "staff_says")
        return True
    if action in ("customer_deletes", "staff_deletes"):
        active = [r for r in _active(sim) if r["userid"] in {u for users in CODES.values() for u in users}]
        if not active:
            return False
        rel = rng.choice(active)
        if action == "customer_deletes":
            sim.customer_deletes_staff(rel["external_userid"], rel["userid"])
        else:
            sim.staff_deletes_customer(rel["userid"], rel["external_userid"])
        return True
    if action == "no_channel_add":
        sim.add_customer(rng.choice(["alice", "bob", "carol", "dave"]))
        return True
    if action == "transfer":  # 在职转接: WeCom completes it 24 hours later (not a deletion, not a channel add)
        rel = rng.choice([r for r in _active(sim) if r["userid"] == "alice" and (r["external_userid"], "alice") in corp.scanned])
        answer = corp.api("externalcontact/transfer_customer", {
            "handover_userid": "alice", "takeover_userid": "dave", "external_userid": [rel["external_userid"]],
        })
        assert answer["customer"][0]["errcode"] == 0, answer
        return True
    raise AssertionError(action)


# -- the expected statistics, from the simulator's records only -----------------------------------------------
@dataclass
class Expected:
    adds: int = 0
    deleted_by_customer: int = 0
    deleted_by_staff: int = 0
    eligible_7: int = 0
    retained_7: int = 0
    eligible_30: int = 0
    retained_30: int = 0
    wrote: int = 0
    replied: int = 0
    reply_seconds: float = 0.0

    def as_tuple(self) -> tuple:
        return (self.adds, self.deleted_by_customer, self.deleted_by_staff, self.eligible_7, self.retained_7,
                self.eligible_30, self.retained_30, self.wrote, self.replied, round(self.reply_seconds, 3))


@dataclass
class Friendship:
    userid: str
    external_userid: str
    added: int
    state: str
    ended: tuple[int, str] | None = None  # (when, "customer" | "staff" | "transfer")
    customer_said: list[float] = field(default_factory=list)
    staff_said: list[float] = field(default_factory=list)


def friendships(sim) -> list[Friendship]:
    """Every customer × staff friendship from the callback deliveries, with its chat from the archive."""
    found: dict[tuple[str, str], Friendship] = {}
    for delivery in sim.deliveries:
        if delivery.copy_of is not None or delivery.event != "change_external_contact":
            continue
        fields = {child.tag: (child.text or "") for child in fromstring(delivery.xml)}
        key = (fields["UserID"], fields["ExternalUserID"])
        at = int(fields["CreateTime"])
        change = fields["ChangeType"]
        if change == "add_external_contact":
            found[key] = Friendship(key[0], key[1], at, fields.get("State", ""))
        elif change == "del_follow_user":
            found[key].ended = (at, "customer")
        elif change == "del_external_contact":
            found[key].ended = (at, "transfer" if fields.get("Source") == "DELETE_BY_TRANSFER" else "staff")
    seq = 0
    while batch := sim.archive(seq, 1000)["chatdata"]:
        for item in batch:
            seq, message = item["seq"], item["message"]
            if message["roomid"]:
                continue
            sender, receiver, at = message["from"], message["tolist"][0], message["msgtime"] / 1000
            if (receiver, sender) in found:
                found[(receiver, sender)].customer_said.append(at)
            elif (sender, receiver) in found:
                found[(sender, receiver)].staff_said.append(at)
    return list(found.values())


def expected_stats(sim, *, start: date, end: date, now: float, keep=lambda f: True) -> dict[tuple, Expected]:
    """(Beijing day, state, userid) → figures, by the definitions in siyu.analytics.queries, recomputed here."""
    rows: dict[tuple, Expected] = defaultdict(Expected)
    for f in friendships(sim):
        if not f.state or not keep(f):
            continue
        lost = f.ended if f.ended and f.ended[1] in ("customer", "staff") else None
        if start <= local_day(f.added) <= end:
            row = rows[(local_day(f.added), f.state, f.userid)]
            row.adds += 1
            for n in (7, 30):
                if f.added + n * DAY <= now:
                    setattr(row, f"eligible_{n}", getattr(row, f"eligible_{n}") + 1)
                    if not (lost and lost[0] < f.added + n * DAY):
                        setattr(row, f"retained_{n}", getattr(row, f"retained_{n}") + 1)
            asked = min((t for t in f.customer_said if t >= f.added), default=None)
            if asked is not None:
                row.wrote += 1
                answered = min((t for t in f.staff_said if t >= asked), default=None)
                if answered is not None:
                    row.replied += 1
                    row.reply_seconds += answered - asked
        if lost and start <= local_day(lost[0]) <= end:
            row = rows[(local_day(lost[0]), f.state, f.userid)]
            if lost[1] == "customer":
                row.deleted_by_customer += 1
            else:
                row.deleted_by_staff += 1
    return dict(rows)


def actual_stats(stats) -> dict[tuple, tuple]:
    """The same shape from a ChannelStats."""
    return {
        (row.day, row.state, row.staff.userid): (
            row.adds, row.deleted_by_customer, row.deleted_by_staff, row.eligible_7, row.retained_7,
            row.eligible_30, row.retained_30, row.wrote, row.replied, round(row.reply_seconds, 3),
        )
        for row in stats.rows
    }


def story_start(days_back: int = 40) -> float:
    """A Beijing midnight ``days_back`` days ago: the story ends a few days before the real now."""
    today = timezone.localdate(timezone=SH)
    return datetime.combine(today - timedelta(days=days_back), time.min, SH).timestamp()
