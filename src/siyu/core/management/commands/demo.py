from django.conf import settings
from django.core.management.base import BaseCommand

from siyu.demo import load_demo


class Command(BaseCommand):
    help = "Create (or top up) the demo brand, slug 'demo', and print how to sign in."

    def handle(self, **options):
        info = load_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo brand: {info.org.name} (slug {info.org.slug})"))
        self.stdout.write(f"Sign in at {settings.PUBLIC_URL}/login/ with any of these accounts:")
        for username, role in info.usernames:
            self.stdout.write(f"  {username:<22} {role}")
        self.stdout.write(f"Password for all demo accounts: {info.password}")
        self.stdout.write(f"(kept in {settings.DATA_DIR / 'demo_password'})")
