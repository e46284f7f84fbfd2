from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "siyu.segments"
    label = "segments"
    verbose_name = _("人群")

    def ready(self):
        from siyu.segments import services  # noqa: F401  (registers the export and sync job handlers)
