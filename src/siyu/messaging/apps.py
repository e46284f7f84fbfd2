from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "siyu.messaging"
    label = "messaging"
    verbose_name = _("消息触达")

    def ready(self):
        # tasks registers the periodic release of held recipients.
        from siyu.messaging import mass, profile, tasks  # noqa: F401

        profile.register()
        mass.register()
