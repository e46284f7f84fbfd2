from django.apps import AppConfig


class DurableAppConfig(AppConfig):
    name = "tests.durable_app"
    label = "durable_app"

    def ready(self):
        from siyu.core import events
        from tests.durable_app import reactions

        # An app of its own defines a kind and subscribes to it, as every capability does.
        events.define_kind(reactions.CHORE_NOTED, "chore noted")
        events.subscribe(reactions.CHORE_NOTED, "durable_app.record_effect", reactions.record_effect)
