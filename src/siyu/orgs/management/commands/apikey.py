from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.orgs.apikeys import create_key, revoke_key
from siyu.orgs.models import ApiKey, Organization, Store
from siyu.orgs.roles import Role


class Command(BaseCommand):
    help = "Integration API keys: `create` prints the new key once, on its last line; `revoke` stops one."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="subcommand", required=True, title="subcommands")
        create = commands.add_parser("create", help="a new key with a role (and a store for store roles)")
        create.add_argument("--org", required=True, help="organization slug")
        create.add_argument("--role", required=True, choices=[r for r in Role.values if r != Role.OWNER])
        create.add_argument("--name", required=True, help="what the key is for, e.g. 'ERP sync'")
        create.add_argument("--store", default="", help="store or region code (store_manager and guide keys)")
        revoke = commands.add_parser("revoke", help="revoke a key by its prefix")
        revoke.add_argument("--org", required=True, help="organization slug")
        revoke.add_argument("--prefix", required=True)

    def handle(self, *args, subcommand, org, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"no organization with slug {org!r}")
        if subcommand == "revoke":
            key = ApiKey.objects.for_org(organization).filter(prefix=options["prefix"]).first()
            if key is None:
                raise CommandError(f"no key with prefix {options['prefix']!r} in {org}")
            revoke_key(key, by=None)
            self.stdout.write(f"revoked {key.prefix}")
            return
        store = None
        if options["store"]:
            store = Store.objects.for_org(organization).filter(code=options["store"]).first()
            if store is None:
                raise CommandError(f"no store with code {options['store']!r} in {org}")
        try:
            key, token = create_key(organization, name=options["name"], role=options["role"], store=store, by=None)
        except ValidationError as error:
            raise CommandError("; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items()))
        self.stdout.write(f"API key {key.prefix} ({key.name}, {key.membership.get_role_display()}) — shown only now:")
        self.stdout.write(token)
