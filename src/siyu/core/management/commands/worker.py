import logging

from django.conf import settings
from django.core.management.base import BaseCommand
from huey.contrib.djhuey import HUEY

from siyu.core.dispatch import Dispatcher

log = logging.getLogger("siyu.worker")


class Command(BaseCommand):
    help = "Run background work: the huey consumer with its periodic scheduler, and the durable-row dispatcher."

    def add_arguments(self, parser):
        parser.add_argument("--threads", type=int, default=settings.HUEY["consumer"]["workers"], help="huey worker threads")
        parser.add_argument("--dispatch-threads", type=int, default=None, help="threads performing durable rows")
        parser.add_argument("--no-periodic", action="store_true", help="leave periodic tasks to another worker")

    def handle(self, threads, dispatch_threads, no_periodic, **options):
        dispatcher = Dispatcher(threads=dispatch_threads)
        dispatcher.start()
        consumer = HUEY.create_consumer(workers=threads, worker_type="thread", periodic=not no_periodic, check_worker_health=True)
        self.stdout.write(f"siyu worker {dispatcher.owner}: {threads} task threads, {dispatcher.threads} dispatch threads")
        try:
            consumer.run()  # returns on SIGINT/SIGTERM
        finally:
            dispatcher.stop()
            dispatcher.join(timeout=30)
