from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "siyu.conversations"
    label = "conversations"
    verbose_name = _("会话存档")

    def ready(self):
        # The watch reads every newly archived message.
        from siyu.conversations import watch

        watch.connect()
