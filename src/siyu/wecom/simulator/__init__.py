"""A faithful local WeCom (企业微信) for one corp: API, callbacks, control API, scenario driver.

Framework-free on purpose (stdlib + httpx + :mod:`siyu.wecom.crypto`): it runs
as its own process for the demo and inside tests without Django. See
docs/simulator.md for the control API and the WeCom facts it reproduces.
"""

from .callbacks import Delivery, Event
from .clock import SimClock
from .core import Simulator
from .errors import ApiError, NotFound, SimulatorError
from .limits import Limits
from .scenario import ScenarioDriver
from .server import run_in_thread, serve

__all__ = [
    "ApiError",
    "Delivery",
    "Event",
    "Limits",
    "NotFound",
    "ScenarioDriver",
    "SimClock",
    "Simulator",
    "SimulatorError",
    "run_in_thread",
    "serve",
]
