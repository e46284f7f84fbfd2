from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "siyu.channels"
    label = "channels"
    verbose_name = _("渠道活码")

    def ready(self):
        from siyu.channels import handlers, listing, profile, tasks  # noqa: F401  (event subscribers; periodic rotation with huey)

        handlers.connect()
        profile.connect()
        listing.register()
