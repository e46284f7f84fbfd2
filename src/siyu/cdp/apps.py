from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CdpConfig(AppConfig):
    name = "siyu.cdp"
    label = "cdp"
    verbose_name = _("客户数据平台")

    def ready(self):
        from siyu.cdp import order_import  # noqa: F401  (registers the order import job handler)
        from siyu.cdp import person_tasks, person_views  # noqa: F401  (the customer 360's 用户画像 section)

        person_tasks.connect()
