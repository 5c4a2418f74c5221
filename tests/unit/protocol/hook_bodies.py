"""A minimal valid ``patient-view`` hook request and a helper that changes its top-level fields, shared by the
protocol parser tests."""

from __future__ import annotations

import copy
from typing import Any

BASE: dict[str, Any] = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
}


def hook_body(**changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`BASE` with ``changes`` set at the top level."""
    body = copy.deepcopy(BASE)
    body.update(changes)
    return body
