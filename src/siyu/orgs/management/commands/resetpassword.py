from django.core.management.base import BaseCommand, CommandError

from siyu.orgs.models import User
from siyu.orgs.passwords import issue_reset


class Command(BaseCommand):
    help = ("Print a one-time link (valid SIYU_PASSWORD_RESET_SECONDS, default 24 h) with which USERNAME sets a new "
            "password and clears a sign-in lock. Earlier links for the account stop working.")

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no account named {username!r}")
        self.stdout.write(issue_reset(user, command_line=True))
