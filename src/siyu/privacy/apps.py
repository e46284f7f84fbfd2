from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "siyu.privacy"
    label = "privacy"
    verbose_name = _("隐私与合规")

    def ready(self):
        # consent defines the consent.changed event kind; stopwords listens to archived chats; profile adds the
        # consent section and timeline wording to the customer pages.
        from siyu.privacy import consent, profile, stopwords  # noqa: F401

        stopwords.connect()
        profile.register()
