from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.orgs.models import Organization
from siyu.privacy import requests


class Command(BaseCommand):
    help = ("Data-subject requests: `export` writes everything Siyu holds about a person (their whole identity "
            "cluster) to a ZIP of person.json and person.xlsx; `erase` removes it and suppresses the identifiers. "
            "Both are audited. The person is named by one identifier, TYPE:VALUE (e.g. phone:13800138000, "
            "user_id:u-1, openid:APPID/OPENID).")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--identifier", required=True, help="TYPE:VALUE")
        parser.add_argument("--output", help="export: where to write the ZIP (default: ./subject-export-<id>.zip)")

    def handle(self, action, org, identifier, output, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization with slug {org!r}")
        try:
            ident = requests.parse_identifier(identifier)
            if action == "export":
                request = requests.export_subject(organization, ident)
            else:
                request = requests.erase_subject(organization, ident)
        except ValidationError as error:
            raise CommandError(" ".join(m for ms in error.message_dict.values() for m in ms)) from None
        summary = ", ".join(f"{k} {v}" for k, v in request.summary.items())
        if action == "erase":
            self.stdout.write(f"Erased {request.identifier}: {summary}.")
            return
        target = Path(output or f"subject-export-{request.pk}.zip")
        target.write_bytes(requests.read_bundle(organization.pk, request.file))
        self.stdout.write(f"Exported {request.identifier}: {summary}.")
        self.stdout.write(str(target.resolve()))
