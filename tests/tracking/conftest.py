"""The open-tracking tests' simulated corp and ``commit``: the lifecycle tests' own."""

from tests.lifecycle.conftest import commit, corp  # noqa: F401
