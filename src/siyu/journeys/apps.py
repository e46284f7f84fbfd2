from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JourneysConfig(AppConfig):
    name = "siyu.journeys"
    label = "journeys"
    verbose_name = _("客户旅程")

    def ready(self):
        from siyu.journeys import triggers

        triggers.register()
