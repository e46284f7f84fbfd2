"""The lifecycle tests' simulated corp (staff, customers, tags over a running simulator) and ``commit``."""

from tests.lifecycle.conftest import commit, corp  # noqa: F401
