from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    name = "siyu.lifecycle"
    label = "lifecycle"
    verbose_name = _("客户运营")

    def ready(self):
        # rules registers the back-fill job handler, reminders the hourly birthday/no-contact task.
        from siyu.lifecycle import hooks, reminders, rules  # noqa: F401

        hooks.connect()
        rules.describe_in_audit()
