from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SidebarConfig(AppConfig):
    name = "siyu.sidebar"
    label = "sidebar"
    verbose_name = _("聊天工具栏")
