"""What one replay produced: the scenario, the backend, the raw data, the figures and the
booking-capacity phase. A module of its own so that the reports and the comparisons, which
read runs, do not import the runner, which writes them."""

from __future__ import annotations

from dataclasses import dataclass

from pyqueue.surge.capacity import Capacity
from pyqueue.surge.driver import RunData
from pyqueue.surge.metrics import Figures
from pyqueue.surge.scenario import Scenario


@dataclass(frozen=True)
class Run:
    scenario: Scenario
    backend: str
    data: RunData
    figures: Figures
    capacity: Capacity
    redis_per_request: float | None
    #: The machine's 1-minute load average at the end of the replay (its own processes
    #: included): real-time figures depend on what else ran on the two cores.
    load_average: float
