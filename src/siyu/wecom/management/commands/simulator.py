import signal
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from siyu.orgs.models import Organization
from siyu.wecom.models import WeComConnection


class Command(BaseCommand):
    help = (
        "The local WeCom simulator. `siyu simulator demo` serves the demo brand's simulated corp (used by "
        "`siyu run --demo`); every other subcommand is the simulator's own CLI (serve, scan, chat, add-staff, …): "
        "`siyu simulator --help`."
    )

    def run_from_argv(self, argv):
        args = argv[2:]
        if args[:1] == ["demo"]:
            return super().run_from_argv(argv[:2] + args[1:])
        from siyu.wecom.simulator.__main__ import main

        sys.exit(main(args))

    def add_arguments(self, parser):
        parser.add_argument("--org", default="demo")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--callback-url", help="Siyu's callback URL (default from SIYU_PUBLIC_URL)")
        parser.add_argument("--rate", type=float, default=0.5, help="scenario actions per second (0: no scenario)")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, org, host, port, callback_url, rate, seed, **options):
        from siyu.demo import load_wecom_demo
        from siyu.wecom.demo import seed_simulator
        from siyu.wecom.simulator import Simulator
        from siyu.wecom.simulator.scenario import ScenarioDriver
        from siyu.wecom.simulator.server import build_server

        organization = Organization.objects.filter(slug=org).first()
        connection = organization and WeComConnection.objects.for_org(organization).first()
        if connection is None:
            raise CommandError(f"organization {org!r} has no WeCom connection (run `siyu demo` first)")
        sim = Simulator(
            connection.corp_id, connection.secret, connection.agent_id, connection.callback_token,
            connection.encoding_aes_key, callback_url or f"{settings.PUBLIC_URL}/wecom/callback/{org}/",
            state_file=str(settings.DATA_DIR / f"simulator-{org}.json"), async_delivery=True,
        )
        server = build_server(sim, host, port, quiet=True)
        serving = threading.Thread(target=server.serve_forever, name="simulator-http", daemon=True)
        serving.start()
        self.stdout.write(f"Simulated WeCom for {organization.name} on http://{host}:{port} (control API /sim/)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        driver = None
        try:
            seed_simulator(sim, organization)
            load_wecom_demo(organization)  # channel codes and the like need the simulator's API up
            if rate > 0:
                driver = ScenarioDriver(sim, rate=rate, seed=seed if seed is not None else int(sim.now()))
                driver.start()
            stop.wait()
        finally:
            if driver is not None:
                driver.stop()
            server.shutdown()
            server.server_close()
            sim.close()
