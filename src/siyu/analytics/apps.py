from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "siyu.analytics"
    label = "analytics"
    verbose_name = _("数据分析")

    def ready(self):
        from siyu.analytics import exports  # noqa: F401 - registers the export job handler
