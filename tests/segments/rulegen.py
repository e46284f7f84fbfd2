"""Hypothesis strategies for random rule trees over the generated data's vocabulary."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.segments.data import NOW

TEXT = st.sampled_from(["gold", "Gold", "GOLD", "silver", "金卡", "old", "Tea", "tea", "春季", "x"])
NUMBER = st.one_of(st.integers(-2, 10), st.sampled_from([7.5, 0.5, 99.5, 100, 250, 1000.01]))
SCALAR = st.one_of(TEXT, NUMBER, st.booleans())
DAYS = st.sampled_from([1, 7, 30, 90])
DATE_TEXT = st.sampled_from([(NOW.replace(day=1, month=1)).isoformat(), NOW.isoformat(), "2026-02-22", "2026-01-30",
                             (NOW.replace(month=2)).isoformat()])


def _custom_trait(keys):
    key = st.sampled_from([f"traits.{k}" for k in keys] + ["traits.absent"])
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("trait"), "field": key,
                               "operator": st.sampled_from(["eq", "ne"]), "value": SCALAR}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": key,
                               "operator": st.sampled_from(["lt", "gt"]), "value": NUMBER}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": key, "operator": st.just("between"),
                               "value": st.tuples(NUMBER, NUMBER).map(lambda t: sorted(t))}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": key, "operator": st.just("in"),
                               "value": st.lists(SCALAR, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": key, "operator": st.just("contains"),
                               "value": TEXT}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": key,
                               "operator": st.sampled_from(["exists", "not_exists"])}),
    )


def _typed_trait():
    number_field = st.sampled_from(["orders_count", "total_spend", "average_order_value", "r_score", "f_score", "m_score"])
    date_field = st.sampled_from(["first_seen_at", "last_seen_at", "last_order_at", "first_order_at"])
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("trait"), "field": number_field,
                               "operator": st.sampled_from(["eq", "ne", "lt", "gt"]),
                               "value": st.sampled_from([0, 1, 2, 3, 5, 99.5, 100, 250])}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": number_field, "operator": st.just("between"),
                               "value": st.sampled_from([[0, 3], [99.5, 250], [1, 1]])}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": number_field, "operator": st.just("in"),
                               "value": st.lists(st.sampled_from([0, 1, 3, 5, 100]), min_size=1, max_size=3)}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": st.one_of(number_field, date_field),
                               "operator": st.sampled_from(["exists", "not_exists"])}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": date_field,
                               "operator": st.sampled_from(["within_days", "before_days"]), "value": DAYS}),
        st.fixed_dictionaries({"type": st.just("trait"), "field": date_field,
                               "operator": st.sampled_from(["lt", "gt"]), "value": DATE_TEXT}),
    )


def conditions(built):
    prop = st.one_of(
        st.fixed_dictionaries({"key": st.sampled_from(["material", "seconds"]),
                               "operator": st.sampled_from(["eq", "ne"]), "value": st.sampled_from(["Tea", "春季新品", 30, 3])}),
        st.fixed_dictionaries({"key": st.just("seconds"), "operator": st.sampled_from(["lt", "gt"]),
                               "value": st.sampled_from([5, 10, 30])}),
        st.fixed_dictionaries({"key": st.just("material"), "operator": st.just("contains"), "value": st.just("tea")}),
    )

    def ids(values):
        return st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True)

    return st.one_of(
        _custom_trait(built.trait_keys),
        _typed_trait(),
        st.fixed_dictionaries({"type": st.just("tags"), "match": st.sampled_from(["any", "all", "none"]),
                               "tags": ids(list(built.tags.values()))}),
        st.fixed_dictionaries({"type": st.just("event"), "event": st.sampled_from(built.event_names),
                               "did": st.sampled_from(["at_least", "at_most"]), "count": st.integers(0, 4),
                               "days": DAYS, "properties": st.lists(prop, max_size=2)}),
        st.fixed_dictionaries({"type": st.just("event"), "event": st.sampled_from(built.event_names),
                               "did": st.just("none"), "days": DAYS, "properties": st.lists(prop, max_size=1)}),
        st.fixed_dictionaries({"type": st.just("orders"), "measure": st.sampled_from(["count", "spend"]),
                               "did": st.sampled_from(["at_least", "at_most"]),
                               "value": st.sampled_from([0, 1, 2, 99.5, 300]), "days": st.sampled_from([None, 7, 30])}),
        st.fixed_dictionaries({"type": st.just("bought"), "products": ids(built.products),
                               "days": st.sampled_from([None, 7, 30])}),
        st.fixed_dictionaries({"type": st.just("stage"), "ids": ids(list(built.stages.values()))}),
        st.fixed_dictionaries({"type": st.just("staff"), "ids": ids(built.staff)}),
        st.fixed_dictionaries({"type": st.just("store"), "ids": ids(built.stores)}),
        st.fixed_dictionaries({"type": st.just("customer_group"), "ids": ids(built.groups)}),
        st.fixed_dictionaries({"type": st.just("consent"), "purpose": st.sampled_from(["marketing", "profiling", "location"]),
                               "state": st.sampled_from(["granted", "withdrawn", "unknown"])}),
        st.fixed_dictionaries({"type": st.just("source"),
                               "sources": st.lists(st.sampled_from(["web", "app", "pos", "wecom"]), min_size=1, max_size=2)}),
    )


def trees(built):
    return st.recursive(
        conditions(built),
        lambda children: st.one_of(
            st.fixed_dictionaries({"op": st.sampled_from(["and", "or"]), "rules": st.lists(children, min_size=1, max_size=3)}),
            st.fixed_dictionaries({"op": st.just("not"), "rule": children}),
        ),
        max_leaves=6,
    )
