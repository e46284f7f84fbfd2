from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MomentsConfig(AppConfig):
    name = "siyu.moments"
    label = "moments"
    verbose_name = _("客户朋友圈")

    def ready(self):
        # tasks registers the periodic results fetch; profile the timeline kinds this app writes.
        from siyu.moments import profile, tasks  # noqa: F401

        profile.connect()
