"""The ``siyu`` command: Siyu's own commands (run, web, worker, demo, createadmin, …) and every Django one."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError, ProgrammingError

    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["cdp", "source"]:
        import django

        from siyu.cdp.source_cli import main as source_command

        django.setup()
        sys.exit(source_command(args[2:]))
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
