import argparse
import getpass
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from siyu.orgs.models import Organization
from siyu.wecom.gaps import silences_since
from siyu.wecom.sync import start_full_sync
from siyu.wecom.connection import callback_url, preflight, save_connection
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.errors import WeComError
from siyu.wecom.models import WeComConnection


class Command(BaseCommand):
    help = "Connect an organization to its WeCom corp (`connect`) and check the connection end to end (`check`)."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="subcommand", required=True, title="subcommands")
        connect = commands.add_parser(
            "connect", help="save the corp id, app and callback keys (omitted keys: generated, or kept on an edit)"
        )
        connect.add_argument("--org", required=True, help="organization slug")
        connect.add_argument("--corp-id", help="企业ID, ww…")
        connect.add_argument("--agent-id", help="the self-built app's AgentId")
        connect.add_argument("--secret", help="the app's Secret (omit to be asked, or to keep the stored one)")
        connect.add_argument("--token", help="callback Token (3–32 letters/digits)")
        connect.add_argument("--aes-key", help="callback EncodingAESKey (43 characters)")
        connect.add_argument("--api-base", help="API base URL (default: WeCom's; point it at the simulator for a demo)")
        check = commands.add_parser("check", help="fetch a token, call a 客户联系 API and verify the callback URL")
        check.add_argument("--org", required=True, help="organization slug")
        reconcile = commands.add_parser(
            "reconcile", help="after downtime: list the silences in WeCom's deliveries since a time and queue a full sync"
        )
        reconcile.add_argument("--org", required=True, help="organization slug")
        reconcile.add_argument("--since", required=True, type=_moment,
                               help="when the trouble began, e.g. '2026-12-06 09:00' (Beijing time) or ISO 8601")

    def handle(self, *args, subcommand, org, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization with slug {org!r}")
        if subcommand == "connect":
            self.do_connect(organization, **options)
        elif subcommand == "reconcile":
            self.do_reconcile(organization, options["since"])
        else:
            self.do_check(organization)

    def do_reconcile(self, org, since):
        """WeCom has no feed of changes since a time: a full sync is what repairs missed callbacks."""
        for start, end in silences_since(org, since):
            self.stdout.write(f"No callbacks from {timezone.localtime(start):%Y-%m-%d %H:%M} "
                              f"to {timezone.localtime(end):%Y-%m-%d %H:%M}")
        try:
            job = start_full_sync(org, None, reason="reconcile")
        except ValidationError as refused:
            raise CommandError("; ".join(refused.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Queued a full sync of {org.slug} (job {job.pk}); a worker runs it."))

    def do_connect(self, org, *, corp_id, agent_id, secret, token, aes_key, api_base, **options):
        existing = WeComConnection.objects.for_org(org).first()
        generated = []
        if existing is not None:
            corp_id = corp_id or existing.corp_id
            agent_id = agent_id or existing.agent_id
            token = token or existing.callback_token
            aes_key = aes_key or existing.encoding_aes_key
            api_base = api_base or existing.api_base
        else:
            if not token:
                token = generate_token()
                generated.append(("Token", token))
            if not aes_key:
                aes_key = generate_encoding_aes_key()
                generated.append(("EncodingAESKey", aes_key))
            if secret is None and sys.stdin.isatty():
                secret = getpass.getpass("Secret: ")
        try:
            save_connection(
                org, corp_id=corp_id or "", agent_id=agent_id or "", secret=secret or "", callback_token=token,
                encoding_aes_key=aes_key, api_base=api_base or "", by=None,
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
            ) from None
        self.stdout.write(self.style.SUCCESS(f"Saved the WeCom connection of {org.slug}."))
        for name, value in generated:
            self.stdout.write(f"{name}: {value}")
        self.stdout.write(f"Callback URL: {callback_url(org)}")
        self.stdout.write("Paste them into WeCom (应用管理 → 接收消息 → 设置API接收), then run `siyu wecom check`.")

    def do_check(self, org):
        try:
            results = preflight(org)
        except WeComError as error:
            raise CommandError(error.hint) from None
        for result in results:
            mark = self.style.SUCCESS("✓") if result.ok else self.style.ERROR("✗")
            self.stdout.write(f"{mark} {result.label}: {result.detail}")
            if not result.ok and result.fix:
                self.stdout.write(f"    → {result.fix}")
        failed = [r.name for r in results if not r.ok]
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}", returncode=1)
        self.stdout.write(self.style.SUCCESS("All checks passed."))


def _moment(text: str):
    """A date and time on the command line; without a zone it is Beijing time (the console's time)."""
    try:
        moment = parse_datetime(text.strip().replace(" ", "T", 1))
    except ValueError:
        moment = None
    if moment is None:
        raise argparse.ArgumentTypeError(f"not a date and time: {text!r}")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
