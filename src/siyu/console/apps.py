from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "siyu.console"
    label = "console"
    verbose_name = _("控制台")

    def ready(self):
        from django.utils.module_loading import autodiscover_modules

        # Every app's ``contributions`` module registers its menu entries, capabilities and behaviour events,
        # so a new capability adds its own module instead of editing the console, roles or rules.
        autodiscover_modules("contributions")
