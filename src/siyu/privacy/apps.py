from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "siyu.privacy"
    label = "privacy"
    verbose_name = _("隐私与合规")
