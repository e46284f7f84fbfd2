from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "siyu.customers"
    label = "customers"
    verbose_name = _("客户")

    def ready(self):
        from siyu.customers import bulk  # noqa: F401  (registers the bulk-tag and export job handlers)
