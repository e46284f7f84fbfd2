from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "siyu.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from siyu.core import jobs  # noqa: F401  (registers the job runner and sweeper with huey)
        from siyu.core.signals import create_cache_table

        post_migrate.connect(create_cache_table, sender=self)
        # Every app's tasks.py (periodic tasks, job handlers) in every process — web, worker, commands —
        # as huey's own run_huey does for the consumer only. All models are loaded by the time ready() runs.
        autodiscover_modules("tasks")
