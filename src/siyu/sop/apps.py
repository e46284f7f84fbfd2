from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SopConfig(AppConfig):
    name = "siyu.sop"
    label = "sop"
    verbose_name = _("SOP")

    def ready(self):
        # tasks registers the periodic sweep; enrollment subscribes to the relation and group events.
        from siyu.sop import enrollment, tasks  # noqa: F401

        enrollment.register()
