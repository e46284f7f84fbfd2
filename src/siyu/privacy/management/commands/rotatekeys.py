from django.core.management.base import BaseCommand, CommandError

from siyu.privacy import services


class Command(BaseCommand):
    help = "Make a new encryption key current and re-encrypt stored personal data with it (old keys are kept)."

    def add_arguments(self, parser):
        parser.add_argument("--reencrypt-only", action="store_true", help="skip making a new key")

    def handle(self, reencrypt_only, **options):
        if not reencrypt_only:
            try:
                kid = services.rotate_keys()
            except RuntimeError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"New current key: {kid}")
        changed = services.reencrypt_all()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {changed} values."))
        self.stdout.write("Restart other Siyu processes only if they use SIYU_ENCRYPTION_KEYS; others pick the key up.")
