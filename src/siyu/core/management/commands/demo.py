from django.conf import settings
from django.core.management.base import BaseCommand

from siyu.demo import load_demo


class Command(BaseCommand):
    help = "Create (or top up) the demo brand, slug 'demo', and print how to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--simulator-port", type=int, default=8100, help="where the demo's simulated WeCom listens")

    def handle(self, simulator_port, **options):
        from siyu.wecom.demo import ensure_demo_connection

        info = load_demo()
        ensure_demo_connection(info.org, simulator_port=simulator_port)
        self.stdout.write(self.style.SUCCESS(f"Demo brand: {info.org.name} (slug {info.org.slug})"))
        self.stdout.write(f"Sign in at {settings.PUBLIC_URL}/login/ with any of these accounts:")
        for username, role in info.usernames:
            self.stdout.write(f"  {username:<22} {role}")
        self.stdout.write(f"Password for all demo accounts: {info.password}")
        self.stdout.write(f"(kept in {settings.DATA_DIR / 'demo_password'})")
