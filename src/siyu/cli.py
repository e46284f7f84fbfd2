"""The ``siyu`` command: Siyu's own commands (run, web, worker, demo, createadmin, …) and every Django one."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError, ProgrammingError

    args = sys.argv[1:] if argv is None else argv
    # `siyu cdp person|source …` are argparse commands of their own modules (Django's commands take one level).
    cdp_commands = {"person": "siyu.cdp.person_cli", "source": "siyu.cdp.source_cli"}
    if args[:1] == ["cdp"] and len(args) > 1 and args[1] in cdp_commands:
        import importlib

        import django

        django.setup()
        sys.exit(importlib.import_module(cdp_commands[args[1]]).main(args[2:]))
    try:
        execute_from_command_line(["siyu", *args])
    except (OperationalError, ProgrammingError):
        if not _unmigrated():
            raise
        # A command that needs the database ran on a data directory that was never set up: say what to run.
        from django.conf import settings

        sys.exit(f"Siyu: the database in {settings.DATA_DIR} is not set up yet; run `siyu migrate` first.")


def _unmigrated() -> bool:
    from django.db import DEFAULT_DB_ALIAS, OperationalError, ProgrammingError, connections
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except (OperationalError, ProgrammingError):
        return True
