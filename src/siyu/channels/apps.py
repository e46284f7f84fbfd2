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

        from siyu.channels import welcome
        from siyu.wecom.receiver import on_receipt

        for change in welcome.ADD_CHANGES:  # a welcome is queued the moment WeCom's add callback is stored
            on_receipt("change_external_contact", change, welcome.queue_from_callback)
