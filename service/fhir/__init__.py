"""FHIR data access: prefetch resolution, fallback fetch from ``fhirServer``, and the ``PatientRecord``."""

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
