"""Auto-tagging rules: when something happens to a customer, tag them and/or move them forward a stage.

Four kinds. **Keyword** rules read chat messages (会话存档): many keywords per rule, any or all of them in one
message, and exclusion words that veto the rule for that message. Matching is substring matching with one
Aho-Corasick automaton per organization (pyahocorasick), not word segmentation: 全网最低价 contains 最低价.
The automaton is cached per process and rebuilt when the organization's rule-set version changes.
**Behaviour** rules fire on events other capabilities report through :func:`evaluate_event` (opened a
material, clicked a link, joined an activity, joined a group). **Purchase** rules fire on new orders, and
**channel** rules on a new friend who came through a channel code's ``state``.

Every tag a rule adds goes through :func:`siyu.customers.tagging.tag_relation` with source ``rule`` and
``source_ref`` ``rule:<id> event:<kind>:<id>``, so each automatic tag names its rule and the event behind it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import ahocorasick
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext

from siyu.cdp.models import Order, Product
from siyu.cdp.services import purchase_summary
from siyu.core.jobs import job_handler, start_job
from siyu.customers import tagging
from siyu.customers.models import Customer, Relation, RelationTag, Tag, TimelineEvent
from siyu.lifecycle import stages
from siyu.lifecycle.models import Rule, RuleSetVersion, RuleTag, Stage
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError
from siyu.wecom.models import ChatMessage, WeComConnection

log = logging.getLogger(__name__)

NAME_MAX = 50
KEYWORD_MAX_CHARS = 50
KEYWORDS_MAX = 20_000
EXCLUDE_MAX = 2_000
ALL_MAX = 20  # "all of these words in one message" only makes sense for a few words
STATE_MAX = 30  # WeCom's limit on a contact way's state
VERSION_TTL = 1.0  # seconds a process trusts its cached automaton before asking for the rule-set version again
BACKFILL_CHUNK = 1000
_SPLIT = re.compile(r"[\r\n,，、;；]+")

SPEAKERS = {"customer": gettext_lazy("客户说的话"), "staff": gettext_lazy("员工说的话"), "any": gettext_lazy("双方")}
MATCHES = {"any": gettext_lazy("包含任一关键词"), "all": gettext_lazy("同时包含全部关键词")}
# Behaviour events a rule can react to (key → label), each app registering its own with
# :func:`register_behaviour_event`; and the timeline kind each is recorded as, with the data key holding its ref
# (used by back-fill). Content and engagement write their events with these kinds and a ``ref`` when they land.
BEHAVIOUR_EVENTS: dict[str, str] = {}
TIMELINE_OF_EVENT: dict[str, tuple[str, str]] = {}


def register_behaviour_event(key: str, label, *, timeline_kind: str, ref_key: str = "ref") -> None:
    """Offer ``key`` to behaviour rules: its label, and the timeline kind (with its ref's data key) it is
    recorded as."""
    BEHAVIOUR_EVENTS[key] = label
    TIMELINE_OF_EVENT[key] = (timeline_kind, ref_key)


register_behaviour_event("material_opened", gettext_lazy("打开素材"), timeline_kind="material_opened")
register_behaviour_event("link_clicked", gettext_lazy("点击链接"), timeline_kind="link_clicked")
register_behaviour_event("activity_joined", gettext_lazy("参加活动"), timeline_kind="activity_joined")
CONDITIONS = {
    "product": gettext_lazy("买过指定商品"),
    "category": gettext_lazy("买过指定品类"),
    "spent_over": gettext_lazy("累计消费超过金额"),
    "order_count": gettext_lazy("累计订单数达到"),
}


def normalize(text: str) -> str:
    """Full-width to half-width and case-folded, for keywords and messages alike (ＶＩＰ matches vip)."""
    return unicodedata.normalize("NFKC", text).casefold()


def parse_words(value) -> list[str]:
    """Keywords from a textarea (one per line, or separated by commas/、/;) or a list: normalized, deduplicated."""
    items = value if isinstance(value, (list, tuple)) else _SPLIT.split(value or "")
    seen: dict[str, None] = {}
    for item in items:
        word = normalize(str(item)).strip()
        if word:
            seen.setdefault(word, None)
    return list(seen)


# -- validation --------------------------------------------------------------------------------------------
def _words(config: dict, key: str, *, required: bool, limit: int) -> list[str]:
    words = parse_words(config.get(key))
    if required and not words:
        raise ValidationError({key: _("请至少填写一个关键词。")})
    too_long = next((w for w in words if len(w) > KEYWORD_MAX_CHARS), None)
    if too_long is not None:
        raise ValidationError({key: _("关键词“%(word)s…”超过 %(n)d 个字。") % {"word": too_long[:10], "n": KEYWORD_MAX_CHARS}})
    if len(words) > limit:
        raise ValidationError({key: _("最多 %(n)d 个词，现有 %(count)d 个。") % {"n": limit, "count": len(words)}})
    return words


def clean_config(org, kind: str, config: dict) -> dict:
    """The normalized config of a rule of ``kind``; ValidationError keyed by the form field at fault."""
    config = config or {}
    if kind == Rule.Kind.KEYWORD:
        keywords = _words(config, "keywords", required=True, limit=KEYWORDS_MAX)
        exclude = _words(config, "exclude", required=False, limit=EXCLUDE_MAX)
        both = set(keywords) & set(exclude)
        if both:
            raise ValidationError({"exclude": _("“%(word)s”既是关键词又是排除词。") % {"word": sorted(both)[0]}})
        match = config.get("match") or "any"
        if match not in MATCHES:
            raise ValidationError({"match": _("请选择匹配方式。")})
        if match == "all" and len(keywords) > ALL_MAX:
            raise ValidationError({"match": _("“同时包含全部关键词”最多支持 %(n)d 个关键词。") % {"n": ALL_MAX}})
        speaker = config.get("speaker") or "customer"
        if speaker not in SPEAKERS:
            raise ValidationError({"speaker": _("请选择匹配谁说的话。")})
        return {"keywords": keywords, "exclude": exclude, "match": match, "speaker": speaker}
    if kind == Rule.Kind.BEHAVIOUR:
        event = config.get("event") or ""
        if event not in BEHAVIOUR_EVENTS:
            raise ValidationError({"event": _("请选择客户行为。")})
        ref = str(config.get("ref") or "").strip()
        if len(ref) > 64:
            raise ValidationError({"ref": _("对象标识最多 64 个字符。")})
        return {"event": event, "ref": ref}
    if kind == Rule.Kind.PURCHASE:
        condition = config.get("condition") or ""
        if condition not in CONDITIONS:
            raise ValidationError({"condition": _("请选择购买条件。")})
        if condition == "product":
            ids = sorted({int(p) for p in config.get("products") or [] if str(p).isdigit()})
            found = set(Product.objects.for_org(org).filter(pk__in=ids).values_list("pk", flat=True))
            if not ids or found != set(ids):
                raise ValidationError({"products": _("请选择本组织的商品。")})
            return {"condition": condition, "products": ids}
        if condition == "category":
            categories = [c for c in (str(x).strip() for x in config.get("categories") or []) if c]
            if not categories:
                raise ValidationError({"categories": _("请至少填写一个品类。")})
            return {"condition": condition, "categories": sorted(set(categories))}
        if condition == "spent_over":
            try:
                amount = Decimal(str(config.get("amount")))
            except InvalidOperation:
                amount = Decimal(-1)
            if not amount.is_finite() or amount <= 0 or amount > Decimal("100000000"):
                raise ValidationError({"amount": _("请填写大于 0 的金额。")})
            return {"condition": condition, "amount": str(amount.quantize(Decimal("0.01")))}
        try:
            count = int(config.get("count"))
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= 1000:
            raise ValidationError({"count": _("订单数须在 1 到 1000 之间。")})
        return {"condition": condition, "count": count}
    if kind == Rule.Kind.CHANNEL:
        state = str(config.get("state") or "").strip()
        if not state or state == "*":
            raise ValidationError({"state": _("请填写渠道参数。")})
        if len(state.rstrip("*")) > STATE_MAX:
            raise ValidationError({"state": _("渠道参数最多 %(n)d 个字符。") % {"n": STATE_MAX}})
        return {"state": state}
    raise ValidationError({"kind": _("未知的规则类型。")})


# -- writing rules -----------------------------------------------------------------------------------------
def _user(by):
    return by.user if isinstance(by, Membership) else by


def bump_version(org) -> None:
    """Tell every process the organization's rules changed (they rebuild their automaton on next use)."""
    org_id = getattr(org, "pk", org)
    if not RuleSetVersion.objects.for_org(org_id).filter(org_id=org_id).update(version=F("version") + 1):
        RuleSetVersion.objects.get_or_create(org_id=org_id, defaults={"version": 1})
    _matchers.pop(org_id, None)
    transaction.on_commit(lambda: _matchers.pop(org_id, None))


@transaction.atomic
def save_rule(org, *, name: str, kind: str, config: dict, tags=(), stage: Stage | None = None, is_active: bool = True,
              rule: Rule | None = None, by=None) -> Rule:
    """Create (``rule`` None) or update a rule: validated, written, audited; every process picks it up."""
    org_id = getattr(org, "pk", org)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("请填写规则名称。")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("规则名称最多 %(n)d 个字。") % {"n": NAME_MAX}]
    elif Rule.objects.for_org(org_id).filter(name=name).exclude(pk=getattr(rule, "pk", None)).exists():
        errors["name"] = [_("已有同名规则。")]
    if rule is not None and rule.kind != kind:
        errors["kind"] = [_("规则类型不能修改。")]
    tags = list(tags or [])
    bad = [t for t in tags if t.org_id != org_id or t.deleted or t.kind != Tag.Kind.CORP or not t.wecom_id]
    if bad:
        errors["tags"] = [_("标签“%(name)s”不能用于规则：只能用已同步到企业微信的企业标签。") % {"name": bad[0].name}]
    if stage is not None and stage.org_id != org_id:
        errors["stage"] = [_("阶段不属于该组织。")]
    if not tags and stage is None and "tags" not in errors:
        errors["tags"] = [_("请至少选择一个标签，或一个要移入的阶段。")]
    try:
        config = clean_config(org_id, kind, config)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    created = rule is None
    if created:
        rule = Rule(org_id=org_id, kind=kind, created_by=_user(by))
    rule.name, rule.config, rule.stage, rule.is_active = name, config, stage, is_active
    rule.save()
    RuleTag.objects.for_org(org_id).filter(rule=rule).exclude(tag__in=tags).delete()
    have = set(RuleTag.objects.for_org(org_id).filter(rule=rule).values_list("tag_id", flat=True))
    RuleTag.objects.bulk_create([RuleTag(org_id=org_id, rule=rule, tag=t) for t in tags if t.pk not in have])
    bump_version(org_id)
    audit.record("rule.created" if created else "rule.updated", org=org_id, actor=_user(by), obj=rule,
                 details={"kind": kind, "tags": [t.name for t in tags], "stage": stage.name if stage else "",
                          "active": is_active, **_audit_config(config)})
    return rule


def _audit_config(config: dict) -> dict:
    # Ten thousand keywords do not belong in an audit entry: their count and the first few do.
    if "keywords" in config:
        return {"keywords": len(config["keywords"]), "first_keywords": config["keywords"][:10],
                "exclude": config["exclude"][:50], "match": config["match"], "speaker": config["speaker"]}
    return dict(config)


@transaction.atomic
def set_rule_active(rule: Rule, active: bool, *, by=None) -> Rule:
    rule.is_active = active
    rule.save(update_fields=["is_active", "updated_at"])
    bump_version(rule.org_id)
    audit.record("rule.enabled" if active else "rule.disabled", org=rule.org_id, actor=_user(by), obj=rule)
    return rule


@transaction.atomic
def delete_rule(rule: Rule, *, by=None) -> None:
    """Delete a rule. Tags it added stay on customers (their source still names the rule id)."""
    audit.record("rule.deleted", org=rule.org_id, actor=_user(by), obj=rule)
    org_id = rule.org_id
    rule.delete()
    bump_version(org_id)


# -- the keyword automaton ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleMeta:
    """What applying a rule needs, without its row: its tags and the stage it moves customers to."""

    id: int
    tag_ids: tuple[int, ...]
    stage_id: int | None


@dataclass(frozen=True)
class _Compiled:
    meta: RuleMeta
    needed: int  # distinct keywords a message must contain: 1 for "any", all of them for "all"
    speaker: str


class KeywordMatcher:
    """One Aho-Corasick automaton over every keyword and exclusion word of a set of keyword rules.

    Each word maps to the (rule, keyword number) pairs that use it; exclusion words carry keyword number -1.
    """

    def __init__(self, rules: list[tuple[RuleMeta, dict]]):
        self.rules: list[_Compiled] = []
        words: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for index, (meta, config) in enumerate(rules):
            keywords = config.get("keywords") or []
            self.rules.append(_Compiled(meta, 1 if config.get("match") != "all" else len(keywords), config.get("speaker", "customer")))
            for number, word in enumerate(keywords):
                words[word].append((index, number))
            for word in config.get("exclude") or []:
                words[word].append((index, -1))
        self.keyword_count = len(words)
        self.listens = {"customer": any(r.speaker in ("customer", "any") for r in self.rules),
                        "staff": any(r.speaker in ("staff", "any") for r in self.rules)}
        self.automaton = ahocorasick.Automaton()
        for word, uses in words.items():
            self.automaton.add_word(word, tuple(uses))
        if words:
            self.automaton.make_automaton()

    def __bool__(self) -> bool:
        return bool(self.rules) and self.keyword_count > 0

    def match(self, text: str, speaker: str = "customer") -> list[RuleMeta]:
        """The rules ``text`` fires: enough of their keywords inside it (anywhere, even inside longer words)
        and none of their exclusion words."""
        if not text or not self.keyword_count or not self.listens[speaker]:
            return []
        found: dict[int, set[int]] = {}
        vetoed: set[int] = set()
        for _end, uses in self.automaton.iter(normalize(text)):
            for index, number in uses:
                if number < 0:
                    vetoed.add(index)
                else:
                    found.setdefault(index, set()).add(number)
        fired = []
        for index, numbers in found.items():
            rule = self.rules[index]
            if index in vetoed or len(numbers) < rule.needed:
                continue
            if rule.speaker == "any" or rule.speaker == speaker:
                fired.append(rule.meta)
        return fired


@dataclass
class _Cached:
    version: int
    checked_at: float
    matcher: KeywordMatcher


_matchers: dict[int, _Cached] = {}
_build_lock = threading.Lock()


def _metas(rules) -> dict[int, RuleMeta]:
    if not rules:
        return {}
    tag_ids: dict[int, list[int]] = defaultdict(list)
    links = RuleTag.objects.for_org(rules[0].org_id).filter(rule__in=[r.pk for r in rules])
    for rule_id, tag_id in links.values_list("rule_id", "tag_id"):
        tag_ids[rule_id].append(tag_id)
    return {r.pk: RuleMeta(r.pk, tuple(sorted(tag_ids[r.pk])), r.stage_id) for r in rules}


def build_matcher(rules) -> KeywordMatcher:
    rules = list(rules)
    metas = _metas(rules)
    return KeywordMatcher([(metas[r.pk], r.config) for r in rules])


def matcher_for(org) -> KeywordMatcher:
    """The organization's automaton, from this process's cache while the rule-set version is unchanged."""
    org_id = getattr(org, "pk", org)
    cached = _matchers.get(org_id)
    now = time.monotonic()
    if cached is not None and now - cached.checked_at < VERSION_TTL:
        return cached.matcher
    version = RuleSetVersion.objects.for_org(org_id).values_list("version", flat=True).first() or 0
    if cached is not None and cached.version == version:
        cached.checked_at = now
        return cached.matcher
    with _build_lock:
        rules = Rule.objects.for_org(org_id).filter(kind=Rule.Kind.KEYWORD, is_active=True).order_by("pk")
        matcher = build_matcher(rules)
        _matchers[org_id] = _Cached(version, now, matcher)
    return matcher


# -- applying rules ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    """A rule fired for a customer because of an event (``"message:42"``); ``relation_id`` limits it to one
    friendship (a channel rule tags the relation that came through the channel)."""

    customer_id: int
    rule: RuleMeta
    event: str
    relation_id: int | None = None


_clients = threading.local()


def _client(org_id: int) -> WeComClient:
    """This thread's WeCom client for the organization, reused while its connection row is unchanged: building
    one (its TLS context) costs more than the ``mark_tag`` call it is needed for."""
    cache = getattr(_clients, "by_org", None)
    if cache is None:
        cache = _clients.by_org = {}
    conn = WeComConnection.objects.for_org(org_id).filter(is_active=True).values_list("pk", "updated_at", "api_base").first()
    entry = cache.get(org_id)
    if entry is not None and entry[0] == conn:
        return entry[1]
    if entry is not None:
        entry[1].close()
        del cache[org_id]
    client = WeComClient.for_org(org_id)
    cache[org_id] = (conn, client)
    return client


def source_ref(rule_id: int, event: str) -> str:
    return f"rule:{rule_id} event:{event}"[:100]


def apply_hits(org, hits: list[Hit]) -> int:
    """Tag and move the customers of ``hits``; returns how many tag links were added.

    Reads in bulk what customers already have, so a rule firing again for a tagged customer costs no write and
    no WeCom call. A tag deleted meanwhile is logged and skipped. A WeCom error (a rate limit, an outage) does
    not stop the other relations, but is raised once they are done, so the event delivery that ran the rules
    is retried: the relations already tagged are then skipped, the ones WeCom refused are tagged.
    """
    org_id = getattr(org, "pk", org)
    unique: dict[tuple, Hit] = {}
    for hit in hits:
        unique.setdefault((hit.customer_id, hit.rule.id, hit.relation_id), hit)
    hits = list(unique.values())
    if not hits:
        return 0
    customer_ids = {h.customer_id for h in hits}
    tag_ids = {t for h in hits for t in h.rule.tag_ids}
    relations: dict[int, list[int]] = defaultdict(list)
    have: set[tuple[int, int]] = set()
    if tag_ids:
        active = Relation.objects.for_org(org_id).filter(customer_id__in=customer_ids, status=Relation.Status.ACTIVE)
        for relation_id, customer_id in active.values_list("pk", "customer_id"):
            relations[customer_id].append(relation_id)
        if relations:
            have = set(RelationTag.objects.for_org(org_id).filter(
                relation__customer_id__in=customer_ids, relation__status=Relation.Status.ACTIVE, tag_id__in=tag_ids,
            ).values_list("relation_id", "tag_id"))
    # Read only when some relation lacks a tag: in the steady state, customers already have theirs.
    tags: dict[int, Tag] | None = None
    rows: dict[int, Relation] = {}
    added: Counter = Counter()
    fired: set[int] = set()
    wecom_error: WeComError | None = None
    for hit in hits:
        for relation_id in relations.get(hit.customer_id, ()):
            if hit.relation_id is not None and relation_id != hit.relation_id:
                continue
            lacking = [t for t in hit.rule.tag_ids if (relation_id, t) not in have]
            if not lacking:
                continue
            if tags is None:
                tags = {t.pk: t for t in Tag.objects.for_org(org_id).filter(pk__in=tag_ids, deleted=False)}
                rows = {r.pk: r for r in Relation.objects.for_org(org_id).filter(
                    pk__in=[r for ids in relations.values() for r in ids]).select_related("staff", "customer", "org")}
            missing = [tags[t] for t in lacking if t in tags]
            if not missing:
                continue
            try:
                new = tagging.tag_relation(rows[relation_id], missing, source=RelationTag.Source.RULE,
                                           source_ref=source_ref(hit.rule.id, hit.event), client=_client(org_id))
            except WeComError as error:
                wecom_error = wecom_error or error
                continue
            except (ValidationError, IntegrityError) as error:
                log.warning("rule %s could not tag relation %s: %s", hit.rule.id, relation_id, error)
                continue
            have.update((relation_id, t.pk) for t in missing)
            added[hit.rule.id] += len(new)
            fired.add(hit.rule.id)
    _apply_stages(org_id, [h for h in hits if h.rule.stage_id], fired)
    now = timezone.now()
    for rule_id in fired:
        Rule.objects.for_org(org_id).filter(pk=rule_id).update(tagged_count=F("tagged_count") + added[rule_id], last_fired_at=now)
    if wecom_error is not None:
        raise wecom_error
    return sum(added.values())


def _apply_stages(org_id: int, hits: list[Hit], fired: set[int]) -> None:
    if not hits:
        return
    stage_by_id = {s.pk: s for s in Stage.objects.for_org(org_id).filter(pk__in={h.rule.stage_id for h in hits})}
    customers = {c.pk: c for c in Customer.objects.for_org(org_id).filter(pk__in={h.customer_id for h in hits})}
    for hit in hits:
        stage, customer = stage_by_id.get(hit.rule.stage_id), customers.get(hit.customer_id)
        if stage is None or customer is None:
            continue
        if stages.advance_customer(customer, stage, source="rule", source_ref=source_ref(hit.rule.id, hit.event)):
            fired.add(hit.rule.id)


def process_messages(org, messages, *, matcher: KeywordMatcher | None = None) -> int:
    """Run the organization's keyword rules (or ``matcher``'s) over archived messages; returns tags added."""
    matcher = matcher if matcher is not None else matcher_for(org)
    if not matcher:
        return 0
    hits = []
    for message in messages:
        if message.customer_id is None or not message.text:
            continue
        for meta in matcher.match(message.text, "customer" if message.from_customer else "staff"):
            hits.append(Hit(message.customer_id, meta, f"message:{message.pk}"))
    return apply_hits(org, hits) if hits else 0


def _active_rules(org_id, kind):
    rules = list(Rule.objects.for_org(org_id).filter(kind=kind, is_active=True).order_by("pk"))
    return rules, _metas(rules)


def evaluate_event(org, customer, kind: str, ref: str = "", *, event_id: str = "") -> int:
    """A behaviour event happened to ``customer`` (``kind`` is one of :data:`BEHAVIOUR_EVENTS`; ``ref`` names the
    material, link, activity or group). Runs the matching behaviour rules; returns tags added.

    Content (materials, tracked links) and engagement (activities) call this when their events land.
    """
    if kind not in BEHAVIOUR_EVENTS:
        raise ValueError(f"unknown behaviour event {kind!r}")
    org_id = getattr(org, "pk", org)
    rules, metas = _active_rules(org_id, Rule.Kind.BEHAVIOUR)
    ref = str(ref or "")
    hits = [Hit(customer.pk, metas[r.pk], f"{kind}:{event_id or ref}") for r in rules
            if r.config.get("event") == kind and r.config.get("ref", "") in ("", ref)]
    return apply_hits(org_id, hits) if hits else 0


def _purchase_fires(config: dict, *, products: set[int], categories: set[str], summary: dict) -> bool:
    condition = config.get("condition")
    if condition == "product":
        return bool(products & set(config.get("products") or []))
    if condition == "category":
        return bool(categories & set(config.get("categories") or []))
    if condition == "spent_over":
        return summary["spent"] > Decimal(config["amount"])
    if condition == "order_count":
        return summary["orders"] >= int(config["count"])
    return False


def evaluate_order(order: Order) -> int:
    """Purchase rules for a new order (bought a product or category, spent over an amount, N orders)."""
    rules, metas = _active_rules(order.org_id, Rule.Kind.PURCHASE)
    if not rules:
        return 0
    lines = list(order.lines.select_related("product"))
    products = {line.product_id for line in lines}
    categories = {line.product.category for line in lines if line.product.category}
    summary = purchase_summary(order.org_id, order.customer)
    hits = [Hit(order.customer_id, metas[r.pk], f"order:{order.pk}") for r in rules
            if _purchase_fires(r.config, products=products, categories=categories, summary=summary)]
    return apply_hits(order.org_id, hits) if hits else 0


def state_matches(pattern: str, state: str) -> bool:
    if pattern.endswith("*"):
        return bool(state) and state.startswith(pattern[:-1])
    return state == pattern


def evaluate_channel(relation: Relation, state: str) -> int:
    """Channel rules for a new friendship that came through a channel code with ``state``."""
    if not state:
        return 0
    rules, metas = _active_rules(relation.org_id, Rule.Kind.CHANNEL)
    hits = [Hit(relation.customer_id, metas[r.pk], f"relation:{relation.pk}", relation_id=relation.pk)
            for r in rules if state_matches(r.config.get("state", ""), state)]
    return apply_hits(relation.org_id, hits) if hits else 0


# -- back-fill over history --------------------------------------------------------------------------------
def start_backfill(rule: Rule, *, by=None):
    """Run ``rule`` over the history it would have fired on, as a job with progress."""
    if not rule.is_active:
        raise ValidationError(_("规则已停用，启用后才能回溯历史数据。"))
    job = start_job(org=rule.org, kind="lifecycle.backfill_rule", title=_("回溯规则：%(name)s") % {"name": rule.name},
                    params={"rule": rule.pk}, by=_user(by))
    audit.record("rule.backfill_started", org=rule.org_id, actor=_user(by), obj=rule, details={"job": job.pk})
    return job


def _chunks(queryset, size: int = BACKFILL_CHUNK):
    """Rows of ``queryset`` in primary-key order, ``size`` at a time (keyset paging: no OFFSET)."""
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk")[:size])
        if not rows:
            return
        yield rows
        last = rows[-1].pk


@job_handler("lifecycle.backfill_rule")
def _backfill(job, progress) -> dict:
    rule = Rule.objects.for_org(job.org_id).filter(pk=job.params.get("rule")).first()
    if rule is None:
        raise ValueError("the rule was deleted")
    org_id, added = rule.org_id, 0
    meta = _metas([rule])[rule.pk]
    if rule.kind == Rule.Kind.KEYWORD:
        matcher = build_matcher([rule])
        messages = ChatMessage.objects.for_org(org_id).exclude(customer=None).exclude(text="")
        progress.set_total(messages.count())
        for chunk in _chunks(messages.only("pk", "customer_id", "text", "from_customer")):
            added += process_messages(org_id, chunk, matcher=matcher)
            progress.advance(len(chunk))
    elif rule.kind == Rule.Kind.PURCHASE:
        customers = Customer.objects.for_org(org_id).filter(pk__in=Order.objects.for_org(org_id).values("customer_id"))
        progress.set_total(customers.count())
        for chunk in _chunks(customers):
            hits = []
            for customer in chunk:
                orders = Order.objects.for_org(org_id).filter(customer=customer)
                products = set(orders.values_list("lines__product_id", flat=True))
                categories = set(orders.values_list("lines__product__category", flat=True)) - {"", None}
                if _purchase_fires(rule.config, products=products, categories=categories,
                                   summary=purchase_summary(org_id, customer)):
                    hits.append(Hit(customer.pk, meta, f"order:{orders.order_by('-ordered_at', '-pk').first().pk}"))
            added += apply_hits(org_id, hits)
            progress.advance(len(chunk))
    elif rule.kind == Rule.Kind.CHANNEL:
        pattern = rule.config["state"]
        relations = Relation.objects.for_org(org_id).filter(status=Relation.Status.ACTIVE)
        relations = relations.filter(state__startswith=pattern[:-1]) if pattern.endswith("*") else relations.filter(state=pattern)
        progress.set_total(relations.count())
        for chunk in _chunks(relations):
            added += apply_hits(org_id, [Hit(r.customer_id, meta, f"relation:{r.pk}", relation_id=r.pk) for r in chunk])
            progress.advance(len(chunk))
    else:
        kind, key = TIMELINE_OF_EVENT[rule.config["event"]]
        events = TimelineEvent.objects.for_org(org_id).filter(kind=kind)
        progress.set_total(events.count())
        ref = rule.config.get("ref", "")
        for chunk in _chunks(events):
            hits = [Hit(e.customer_id, meta, f"{rule.config['event']}:{e.data.get(key, e.pk)}") for e in chunk
                    if ref in ("", str(e.data.get(key, "")))]
            added += apply_hits(org_id, hits)
            progress.advance(len(chunk))
    return {"tagged": added}


# -- how a rule's condition reads -------------------------------------------------------------------------
def describe_condition(rule: Rule) -> str:
    """The condition column of the rules list, in words (never the config's keys)."""
    from siyu.customers.profile import reference_label

    config = rule.config or {}
    if rule.kind == Rule.Kind.KEYWORD:
        words = len(config.get("keywords") or [])
        text = ngettext("%(n)d 个关键词", "%(n)d 个关键词", words) % {"n": words}
        if config.get("exclude"):
            text += " · " + ngettext("%(n)d 个排除词", "%(n)d 个排除词", len(config["exclude"])) % {"n": len(config["exclude"])}
        return text
    if rule.kind == Rule.Kind.CHANNEL:
        name = reference_label(rule.org_id, f"state:{config.get('state', '')}")
        return _("通过渠道“%(channel)s”添加") % {"channel": name} if name else _("通过已删除的渠道添加")
    if rule.kind == Rule.Kind.PURCHASE:
        condition = config.get("condition")
        if condition == "product":
            names = Product.objects.for_org(rule.org_id).filter(pk__in=config.get("products") or []).values_list("name", flat=True)
            return _("买过 %(products)s") % {"products": "、".join(names) or "—"}
        if condition == "category":
            return _("买过品类 %(categories)s") % {"categories": "、".join(config.get("categories") or [])}
        if condition == "spent_over":
            return _("累计消费超过 ¥%(amount)s") % {"amount": config.get("amount", "")}
        if condition == "order_count":
            return _("累计订单数达到 %(count)s 笔") % {"count": config.get("count", "")}
        return str(CONDITIONS.get(condition, "—"))
    event = str(BEHAVIOUR_EVENTS.get(config.get("event"), _("行为")))
    return f"{event} · {config['ref']}" if config.get("ref") else event


def describe_in_audit() -> None:
    """The audit log's words for this app's enumerated detail values (rule kinds, conditions, matching)."""
    from siyu.orgs.audit_labels import register_detail_values

    register_detail_values("condition", CONDITIONS)
    register_detail_values("match", MATCHES)
    register_detail_values("speaker", SPEAKERS)
    register_detail_values("event", BEHAVIOUR_EVENTS)
    register_detail_values("kind", dict(Rule.Kind.choices))
