import getpass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from siyu.orgs import services
from siyu.orgs.models import Organization, User
from siyu.orgs.roles import Role


class Command(BaseCommand):
    help = (
        "Create a console account. Without --org: a platform administrator (creates organizations). "
        "With --org SLUG: a member of that organization (created if missing) with --role."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username")
        parser.add_argument("--password", help="omit to be asked (the prompt does not echo)")
        parser.add_argument("--org", help="organization slug")
        parser.add_argument("--org-name", help="name when the organization is created")
        parser.add_argument("--role", choices=[r.value for r in Role if r not in (Role.STORE_MANAGER, Role.GUIDE)],
                            default=Role.OWNER, help="whole-organization role (store roles are added in the console)")

    def handle(self, username, password, org, org_name, role, **options):
        # The first command of a fresh install: set the database up rather than fail on missing tables.
        call_command("migrate", interactive=False, verbosity=0)
        username = username or input("Username: ").strip()
        if not username:
            raise CommandError("a username is required")
        if password is None:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the passwords differ")
        if User.objects.filter(username=username).exists():
            # Never attach or re-password an existing account from here: that person joins a brand by invitation.
            raise CommandError(f"user {username!r} exists; nothing changed (existing accounts join a brand through "
                               "an invitation link from its console)")
        try:
            with transaction.atomic():
                if org:
                    organization = Organization.objects.filter(slug=org).first() or services.create_organization(
                        slug=org, name=org_name or org, by=None
                    )
                    services.add_member(org=organization, username=username, role=role, password=password, by=None)
                    where = f"{role} of {organization.slug}"
                else:
                    user = User(username=username, is_superuser=True, is_staff=True)
                    validate_password(password, user)
                    user.set_password(password)
                    user.save()
                    where = "platform administrator"
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Created {username} ({where})."))
