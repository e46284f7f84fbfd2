"""The ``siyu`` command: Siyu's own commands (run, web, worker, demo, createadmin, …) and every Django one."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["siyu", *(sys.argv[1:] if argv is None else argv)])
