"""The drain flag: set by the gunicorn master when it is asked to stop, read by every worker's ``/readyz``.

A load balancer (or Kubernetes) stops routing to a replica only after its readiness probe fails. So on SIGTERM
the master first raises this flag for a few seconds (``/readyz`` answers 503 while every other endpoint still
answers), and only then stops its workers gracefully. The flag lives in shared memory made before the fork,
so one write by the master is seen by every worker without I/O.
"""

from __future__ import annotations

import multiprocessing
from typing import Any


class DrainFlag:
    """A shared boolean: False while serving, True once the master has begun to stop."""

    def __init__(self) -> None:
        # RawValue: one byte in an anonymous shared mapping inherited by forked workers; a single byte needs no lock.
        self._value: Any = multiprocessing.RawValue("b", 0)

    def raise_flag(self) -> None:
        self._value.value = 1

    @property
    def raised(self) -> bool:
        return bool(self._value.value)
