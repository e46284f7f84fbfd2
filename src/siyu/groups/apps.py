from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "siyu.groups"
    label = "groups"
    verbose_name = _("客户群")

    def ready(self):
        from siyu.core import events
        from siyu.groups.codes import on_group_changed

        events.subscribe(events.Kind.GROUP_CHANGED, "groups.code_rooms", on_group_changed)
