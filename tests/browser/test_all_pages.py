"""Every console page, as every role, at desktop and phone size: no template source, no raw keys, no English on the
Chinese console, no sideways scrolling at 1440 px, no console error (CSP violations included).

One browser and one signed-in context per role and size, reused for all pages; the data is the demo brand,
connected to a simulator in a thread, with customers whose timelines hold the kinds that used to show as keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import reverse

from siyu import demo
from siyu.cdp.models import Person, Source
from siyu.channels.models import ChannelCode, WelcomeMessage
from siyu.content.models import Material, Script
from siyu.customers import timeline
from siyu.customers.models import Customer, RelationTag, Tag
from siyu.customers.services import apply_follow_info, upsert_customer
from siyu.groups.models import CustomerGroup, GroupCode, StoreCode
from siyu.journeys.models import Journey
from siyu.lifecycle.models import Rule
from siyu.messaging.models import MassMessage
from siyu.moments.models import Moment
from siyu.orgs.audit_labels import ACTIONS
from siyu.orgs.models import Membership, Staff, Store
from siyu.wecom.client import WeComClient
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.demo import seed_simulator
from siyu.segments.models import Segment
from siyu.sop.models import Sop
from siyu.wecom.models import WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from tests.browser.conftest import Console

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ["demo_owner", "demo_hq", "demo_manager_east", "demo_guide_sh01"]
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}

# Words that stay Latin on a Chinese console: names of products and formats, units, and identifiers' names.
ALLOWED_ENGLISH = {
    "siyu", "wecom", "id", "ids", "unionid", "ip", "url", "qr", "h5", "api", "csv", "excel", "xlsx", "png", "svg",
    "json", "jpg", "sop", "cdp", "scrm", "oneid", "clv", "vip", "km", "kb", "mb", "px", "token", "aes", "encodingaeskey",
    "corpid", "secret", "userid", "english", "https", "http", "ok", "app", "wgs", "gcj", "vs", "ai", "agentid", "appid",
    "gps", "media_id", "rfm", "gbk", "erp", "pos", "openid", "segment", "rudderstack", "sdk", "pdf", "jpg", "html", "webhook",
}
TEMPLATE_SYNTAX = re.compile(r"\{#|\{%|\{\{|#\}|%\}|\}\}")
PYTHON_LITERAL = re.compile(r"(?<![A-Za-z])(True|False|None)(?![A-Za-z])")
# A token of Latin letters, digits and _ . - @: a word when it is letters only; with a digit or an underscore it is an
# identifier (a userid such as demo_guide_sh01, a store code such as GZ01), which pages show as data.
TOKEN = re.compile(r"[A-Za-z0-9_.@'-]*[A-Za-z][A-Za-z0-9_.@'-]*")
# {customer_nickname}: a variable the operator types into a message, named as it must be typed.
VARIABLE = re.compile(r"\{\w+\}")

# The visible text of the page, without what is data rather than wording: identifiers shown in monospace,
# code, form values (not part of innerText anyway) and the language switch's own "English".
PAGE_TEXT = """() => {
  const skip = "script, style, code, pre, kbd, .mono, [data-verbatim], [hidden]";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    if (!el.offsetParent && getComputedStyle(el).position !== "fixed") continue;
    parts.push(node.textContent);
  }
  return parts.join(" ");
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@dataclass
class Finding:
    who: str
    size: str
    url: str
    problem: str

    def __str__(self) -> str:
        return f"{self.who} @ {self.size} {self.url}: {self.problem}"


def _connect_simulator(org):
    sim = Simulator("wwdemoallpages00001", "all-pages-secret", "1000002", generate_token(), generate_encoding_aes_key(),
                    clock=SimClock(frozen=True), deliver=lambda url, params, body: 200)
    base, stop = run_in_thread(sim)
    WeComConnection.objects.create(org=org, corp_id="wwdemoallpages00001", agent_id="1000002", secret="all-pages-secret",
                                   callback_token="tok", encoding_aes_key=generate_encoding_aes_key(),
                                   api_base=f"{base}/cgi-bin/")
    forget_cryptor(org.slug)
    return sim, stop


def _customer(org, sim, staff: Staff, name: str) -> Customer:
    ext = sim.add_customer(staff.userid, name=name)["external_userid"]
    with WeComClient.for_org(org) as client:
        page = client.get("externalcontact/get", external_userid=ext)
    customer = upsert_customer(org, page["external_contact"])
    for info in page["follow_user"]:
        apply_follow_info(org, customer, info, adding=True)
    return customer


@pytest.fixture
def brand(settings):
    """The demo brand with WeCom data (channel codes, welcome messages, rules, group and store codes) and a customer
    whose timeline has a channel add, a channel tag, an automatic remark and a welcome message."""
    settings.WECOM_BACKOFF_BASE = 0.001
    settings.WECOM_BACKOFF_MAX = 0.01
    info = demo.load_demo()
    org = info.org
    sim, stop = _connect_simulator(org)
    try:
        seed_simulator(sim, org)
        demo.load_wecom_demo(org)
        guide = Staff.objects.for_org(org).get(userid="demo_guide_sh01")
        code = ChannelCode.objects.for_org(org).get(state="sh01_poster")
        customer = _customer(org, sim, guide, "林小姐")
        relation = customer.relations.get(staff=guide)
        timeline.record(customer, "added", staff=guide, add_way=1, state=code.state)
        tag = Tag.objects.for_org(org).filter(name="门店海报").first()
        if tag is not None:
            RelationTag.objects.create(org=org, relation=relation, tag=tag, source=RelationTag.Source.CHANNEL,
                                       source_ref=f"channel:{code.pk}")
            timeline.tagged(relation, tag, source=RelationTag.Source.CHANNEL, source_ref=f"channel:{code.pk}")
        timeline.record(customer, "remarked", staff=guide, remark="南京路店海报12-06", source="channel",
                        source_ref=f"channel:{code.pk}")
        timeline.record(customer, "welcomed", staff=guide, code_id=code.pk, attachments=1)
        _customer(org, sim, guide, "王先生")
        yield info
    finally:
        stop()
        sim.close()


def console_pages(org) -> list[str]:
    """Every console page that answers GET: list pages, forms, and one of each detail page."""
    first = lambda model, **f: model.objects.for_org(org).filter(**f).order_by("pk").first()  # noqa: E731
    pages = [
        reverse(name) for name in (
            "console:dashboard", "orgs:stores", "orgs:store_new", "orgs:members", "orgs:member_new", "orgs:audit",
            "orgs:staff", "orgs:transfers", "core:jobs", "wecom:connection", "wecom:calls", "wecom:events", "wecom:sync",
            "customers:list", "customers:tags", "customers:personal_tags", "customers:protected_labels",
            "analytics:channels", "lifecycle:board", "lifecycle:todos", "lifecycle:alerts", "lifecycle:rules",
            "lifecycle:reports", "lifecycle:settings", "channels:list", "channels:new", "channels:welcome",
            "channels:welcome_new", "groups:codes", "groups:code_new", "groups:store_codes", "groups:store_code_new",
            "groups:store_locations", "privacy:subject_requests", "privacy:notices", "persons:list", "persons:reviews",
            "persons:blocked", "orgs:apikeys", "imports:list", "imports:mapping_new", "sources:list", "sources:create",
            "content:check", "content:words", "segments:list", "segments:new", "messaging:settings", "content:scripts",
            "content:script_new", "content:script_usage", "conversations:archive", "conversations:alerts", "workbench:home",
            "workbench:customers", "workbench:posters", "workbench:team_posters",
            "moments:list", "moments:new", "sop:list", "sop:new", "sop:calendar",
            "messaging:mass_list", "messaging:mass_new", "groups:list", "content:materials", "content:material_new",
            "journeys:list", "journeys:new", "orgs:password_change",
        )
    ]
    pages += [reverse("lifecycle:rule_new", args=[kind]) for kind in Rule.Kind.values]
    details = [
        ("customers:detail", first(Customer, name="林小姐")), ("channels:detail", first(ChannelCode)),
        ("channels:edit", first(ChannelCode)), ("channels:welcome_edit", first(WelcomeMessage)),
        ("groups:code_detail", first(GroupCode)), ("groups:code_edit", first(GroupCode)),
        ("groups:store_code_detail", first(StoreCode)), ("groups:store_code_edit", first(StoreCode)),
        ("groups:store_location_edit", first(Store, kind=Store.Kind.STORE)), ("lifecycle:rule_edit", first(Rule)),
        ("orgs:member", first(Membership, role="guide")), ("orgs:staff_detail", first(Staff)),
        ("persons:detail", first(Person, merged_into=None)), ("sources:detail", first(Source)),
        ("segments:detail", first(Segment)), ("segments:edit", first(Segment)),
        ("journeys:report", first(Journey)), ("journeys:edit", first(Journey)),
        ("content:script_edit", first(Script, scope="hq")), ("content:script_review", first(Script, status="in_review")),
        ("conversations:customer", first(Customer, name="林小姐")), ("conversations:staff", first(Staff)),
        ("moments:detail", first(Moment, promotional=True)), ("moments:edit", first(Moment, status="draft")),
        ("moments:detail", first(Moment, promotional=False)), ("moments:results", first(Moment, promotional=False)),
        ("sop:edit", first(Sop)), ("sop:report", first(Sop)), ("groups:group_tags", first(CustomerGroup)),
        ("messaging:mass_detail", first(MassMessage, status="draft")),
        ("messaging:mass_results", first(MassMessage, status__in=["scheduled", "sending", "sent"])),
        ("content:material_preview", first(Material, kind="poster")),
        ("content:material_edit", first(Material, kind="article")),
        ("content:material_review", first(Material, status="in_review")),
        ("tracking:material_stats", first(Material, status="approved")),
    ]
    pages += [reverse("content:material_create", args=[kind]) for kind in Material.Kind.values]
    pages += [reverse(name, args=[row.pk]) for name, row in details if row is not None]
    chats = [("sidebar:customer", first(Customer, name="林小姐"), "external_userid"),
             ("sidebar:group", first(CustomerGroup), "chat_id")]
    pages += [reverse(name, args=[getattr(row, field)]) for name, row, field in chats if row is not None]
    return pages


def english_words(text: str) -> set[str]:
    words = {t.strip(".'-") for t in TOKEN.findall(VARIABLE.sub(" ", text)) if not re.search(r"[\d_@]", t)}
    return {w for w in words if len(w) > 1 and w.lower() not in ALLOWED_ENGLISH}


def raw_keys(text: str) -> set[str]:
    found = {key for key in ACTIONS if key in text}
    found |= {kind for kind in ("remarked", "welcomed", "note_added", "follow_up_scheduled", "stage_changed",
                                "order_count", "channel:") if kind in text}
    found |= set(PYTHON_LITERAL.findall(text))
    return found


def check_page(page, url: str, size: str) -> list[str]:
    problems = []
    text = page.evaluate(PAGE_TEXT)
    if TEMPLATE_SYNTAX.search(text):
        problems.append(f"template syntax: …{text[max(0, TEMPLATE_SYNTAX.search(text).start() - 40):][:100]}…")
    if keys := raw_keys(text):
        problems.append(f"raw keys: {sorted(keys)}")
    if words := english_words(text):
        problems.append(f"English: {sorted(words)[:12]}")
    if size == "desktop" and (overflow := page.evaluate(OVERFLOW)) > 0:
        problems.append(f"scrolls sideways by {overflow}px")
    return problems


def test_every_console_page_reads_as_finished_chinese(browser, live_server, brand):
    pages = console_pages(brand.org)
    findings: list[Finding] = []
    for username in ROLES:
        for size, (width, height) in SIZES.items():
            context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                          timezone_id="Asia/Shanghai")
            page = context.new_page()
            watch = Console(page)
            page.goto(f"{live_server.url}/login/")
            page.get_by_label("用户名").fill(username)
            page.get_by_label("密码").fill(brand.password)
            page.get_by_role("button", name="登录", exact=True).click()
            page.wait_for_url(f"{live_server.url}/")
            findings += [Finding(username, size, "/login/", p) for p in check_page(page, "/", size)]
            for url in pages:
                seen = len(watch.problems)
                response = page.goto(f"{live_server.url}{url}", wait_until="domcontentloaded")
                if response is not None and response.status >= 500:
                    # The error page reads as Chinese too: only its status tells a broken page (403 is a role's).
                    findings.append(Finding(username, size, url, f"HTTP {response.status}"))
                findings += [Finding(username, size, url, p) for p in check_page(page, url, size)]
                # A request still in flight when the test moves on is aborted by the browser, not failed by the page.
                findings += [Finding(username, size, url, p) for p in watch.problems[seen:] if "ERR_ABORTED" not in p]
            context.close()
    assert not findings, f"{len(findings)} problems:\n" + "\n".join(map(str, findings[:80]))


def test_the_checks_catch_what_they_claim():
    """The detectors themselves: each flags its problem and passes clean Chinese."""
    assert TEMPLATE_SYNTAX.search("{# One form field with its label #}")
    assert raw_keys("login.succeeded · remarked · 结果 True") == {"login.succeeded", "remarked", "True"}
    assert english_words("客户 Stage board，Siyu 导出 Excel，3 km") == {"Stage", "board"}
    assert not english_words("张晓（demo_guide_sh01）· GZ01 门店 · 你好 {customer_nickname}")
    assert not raw_keys("登录成功") and not english_words("企业微信 WeCom")
