"""What the data layer needs from a hook request: context, prefetch, and how to reach the FHIR server."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DataRequest:
    """The parts of a validated CDS Hooks request that the FHIR layer reads.

    ``prefetch`` is exactly what the client sent (``None`` when the field was absent; values may be
    ``None``, a resource, a Bundle or an OperationOutcome). ``access_token`` is transient: never logged,
    stored or reused after the request.
    """

    hook: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any] | None = None
    fhir_server: str | None = None
    access_token: str | None = None

    def __repr__(self) -> str:  # keeps the token (and patient data) out of logs and tracebacks
        return f"DataRequest(hook={self.hook!r}, fhir_server={self.fhir_server!r})"
