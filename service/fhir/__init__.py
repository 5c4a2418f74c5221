"""FHIR data access: prefetch resolution, fallback fetch from ``fhirServer``, and the ``PatientRecord``.

The names below are loaded on first use (PEP 562), not at package import: the pathway imports the pure
``service.fhir.coding`` and ``service.fhir.record`` modules, and importing a submodule runs this file first, so
an eager import here would drag requests and pydantic into ``import service.pathway``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from service.fhir.builder import build_record
    from service.fhir.builder import parse_context
    from service.fhir.client import make_session
    from service.fhir.loader import FALLBACK_PAGE_SIZE
    from service.fhir.loader import fallback_query
    from service.fhir.loader import load_record
    from service.fhir.loader import shared_session
    from service.fhir.prefetch import PREFETCH_TEMPLATES
    from service.fhir.prefetch import UnfillableTokenError
    from service.fhir.prefetch import substitute_tokens
    from service.fhir.record import PatientRecord

#: public name → the submodule that defines it.
_EXPORTS = {
    "FALLBACK_PAGE_SIZE": "service.fhir.loader",
    "PREFETCH_TEMPLATES": "service.fhir.prefetch",
    "PatientRecord": "service.fhir.record",
    "UnfillableTokenError": "service.fhir.prefetch",
    "build_record": "service.fhir.builder",
    "fallback_query": "service.fhir.loader",
    "load_record": "service.fhir.loader",
    "make_session": "service.fhir.client",
    "parse_context": "service.fhir.builder",
    "shared_session": "service.fhir.loader",
    "substitute_tokens": "service.fhir.prefetch",
}

__all__ = [
    "FALLBACK_PAGE_SIZE",
    "PREFETCH_TEMPLATES",
    "PatientRecord",
    "UnfillableTokenError",
    "build_record",
    "fallback_query",
    "load_record",
    "make_session",
    "parse_context",
    "shared_session",
    "substitute_tokens",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value
