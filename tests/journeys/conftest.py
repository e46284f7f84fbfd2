"""Journeys run against the simulated WeCom of the lifecycle tests: real corp tags, friends and app messages."""

from tests.lifecycle.conftest import commit, corp  # noqa: F401 - fixtures shared with the lifecycle tests
