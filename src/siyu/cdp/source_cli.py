"""``siyu cdp source create --org SLUG --name NAME --kind KIND``: a new source for scripts and operators; the new
write key is printed alone on the last line so a script can take it with ``tail -n1``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    from siyu.cdp.models import Source

    parser = argparse.ArgumentParser(prog="siyu cdp source", description="Sources of events (数据源).")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a source and its first write key (printed once)")
    create.add_argument("--org", required=True, help="the organization's slug")
    create.add_argument("--name", required=True)
    create.add_argument("--kind", required=True, choices=Source.Kind.values)
    args = parser.parse_args(argv)

    from django.core.exceptions import ValidationError

    from siyu.cdp import sources
    from siyu.orgs.models import Organization

    org = Organization.objects.filter(slug=args.org).first()
    if org is None:
        print(f"siyu: no organization {args.org!r}", file=sys.stderr)
        return 1
    try:
        source = sources.create_source(org, name=args.name, kind=args.kind, by=None)
        _row, key = sources.create_write_key(source, by=None)
    except ValidationError as error:
        for message in error.messages:
            print(f"siyu: {message}", file=sys.stderr)
        return 1
    print(f"Created source {source.name!r} (#{source.pk}, {source.kind}) in {org.slug}. Its write key, shown once:")
    print(key)
    return 0
