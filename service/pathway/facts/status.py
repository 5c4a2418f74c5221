"""Which resources count: their FHIR status codes, counted and active Conditions, completed Procedures."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from service.fhir.coding import Coding
from service.fhir.record import ConditionFacts
from service.fhir.record import ProcedureFacts
from service.pathway.terminology import ValueSet

#: Condition.clinicalStatus codes that count as active (FHIR R4 condition-clinical).
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
#: Condition.verificationStatus codes that are ignored entirely (docs/clinical/reference.md §2.1).
IGNORED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
#: verificationStatus codes that make a specific CGH code "suspected" (None: absent, §2.2 (a)).
SUSPECTED_VERIFICATION = frozenset({"provisional", "differential", "unconfirmed"})
CONFIRMED = "confirmed"
REFUTED = "refuted"
ENTERED_IN_ERROR = "entered-in-error"
COMPLETED = "completed"
#: Observation statuses whose values are not used.
IGNORED_OBSERVATION = frozenset({"entered-in-error", "cancelled", "registered"})
#: ServiceRequest statuses that make a request current (a PT referral in place, a vascular study pending).
CURRENT_REQUEST = frozenset({"active", "draft", "on-hold"})
ACTIVE_MEDICATION = frozenset({"active"})


def _status(value: str | None) -> str | None:
    return _normalised_status(value) if isinstance(value, str) else None


@lru_cache(maxsize=256)
def _normalised_status(value: str) -> str | None:
    # Status codes are a handful of strings asked about many times per evaluation.
    return value.strip().lower() or None


def is_counted(condition: ConditionFacts) -> bool:
    """Not refuted nor entered-in-error (docs/clinical/reference.md §2.1: those are ignored)."""
    return _status(condition.verification_status) not in IGNORED_VERIFICATION


def is_active(condition: ConditionFacts, today: date) -> bool:
    """Counted, and clinically active: active/recurrence/relapse, or no clinicalStatus and not abated.

    inactive / remission / resolved do not count, nor a condition whose abatement date has passed.
    """
    if not is_counted(condition):
        return False
    if condition.abatement is not None and condition.abatement <= today:
        return False
    status = _status(condition.clinical_status)
    return status is None or status in ACTIVE_CLINICAL


def condition_date(condition: ConditionFacts) -> date | None:
    """Onset (onsetDateTime or onsetPeriod.start, as the builder gives it), else recordedDate."""
    return condition.onset if condition.onset is not None else condition.recorded


def in_set(vs: ValueSet, condition: ConditionFacts) -> tuple[Coding, ...]:
    return vs.matching(condition.codings)


def is_completed(procedure: ProcedureFacts) -> bool:
    return _status(procedure.status) == COMPLETED


FINISHED = "finished"
