"""``siyu cdp person --org SLUG --identifier TYPE:VALUE``: one person as JSON, for scripts and operators.

Prints ``{"id", "identifiers": [{"type", "value"}], "traits": {}, "events": [{"type", "event", "message_id",
"timestamp"}], "orders": [{"order_no", "source", "total", "ordered_at"}]}`` and exits 0; exits 1 when nobody
holds the identifier, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from siyu.cdp.models import Identifier


def person_json(person) -> dict:
    """The person as the command prints it: real identifier values (an operator's tool, not a screen)."""
    org_id = person.org_id
    identifiers = Identifier.objects.for_org(org_id).filter(person=person).order_by("kind", "id")
    events = person.events.order_by("timestamp", "id")
    orders = person.orders.order_by("ordered_at", "id")
    return {
        "id": person.pk,
        "identifiers": [{"type": row.kind, "value": row.value} for row in identifiers],
        "traits": person.traits,
        "events": [{"type": e.type, "event": e.name, "message_id": e.message_id,
                    "timestamp": e.timestamp.isoformat()} for e in events],
        "orders": [{"order_no": o.order_no, "source": o.source, "total": str(o.total),
                    "ordered_at": o.ordered_at.isoformat()} for o in orders],
    }


def main(argv: list[str]) -> int:
    from siyu.cdp import identity
    from siyu.orgs.models import Organization

    parser = argparse.ArgumentParser(prog="siyu cdp person", description="Print the person holding an identifier.")
    parser.add_argument("--org", required=True, help="organization slug")
    parser.add_argument("--identifier", required=True, help="TYPE:VALUE, e.g. phone:13800138000 or user_id:u-1")
    args = parser.parse_args(argv)
    kind, sep, value = args.identifier.partition(":")
    if not sep or kind not in Identifier.Kind.values:
        parser.error(f"--identifier must be TYPE:VALUE with TYPE one of {', '.join(Identifier.Kind.values)}")
    org = Organization.objects.filter(slug=args.org).first()
    if org is None:
        parser.error(f"no organization {args.org!r}")
    person = identity.find(org, identity.Ident(kind, value))
    if person is None:
        print(f"no person with {kind} {value!r}", file=sys.stderr)
        return 1
    print(json.dumps(person_json(person), ensure_ascii=False, indent=2))
    return 0
