from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "siyu.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from siyu.core import jobs  # noqa: F401  (registers the job runner and sweeper with huey)
        from siyu.core.signals import create_cache_table

        post_migrate.connect(create_cache_table, sender=self)
