"""The ``PatientRecord``: the FHIR-derived facts of one request, as plain frozen data.

Built once per request by ``service.fhir.builder`` from prefetch, fetched data and the hook context; read by
the pure pathway. Nothing here does I/O or knows JSON. References are ``Type/id`` strings; dates are
``datetime.date`` (the pathway reasons in days).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date

from service.fhir.coding import Coding


@dataclass(frozen=True, slots=True)
class PatientFacts:
    ref: str
    birth_date: date | None = None
    gender: str | None = None
    deceased: bool = False


@dataclass(frozen=True, slots=True)
class ConditionFacts:
    ref: str
    codings: tuple[Coding, ...]
    text: str | None = None
    #: ``Condition.clinicalStatus`` code (active, recurrence, relapse, inactive, remission, resolved) or None.
    clinical_status: str | None = None
    #: ``Condition.verificationStatus`` code (unconfirmed, provisional, differential, confirmed, refuted,
    #: entered-in-error) or None when absent.
    verification_status: str | None = None
    onset: date | None = None
    abatement: date | None = None
    recorded: date | None = None


@dataclass(frozen=True, slots=True)
class ProcedureFacts:
    ref: str
    codings: tuple[Coding, ...]
    status: str | None = None
    #: Start of ``performed[x]`` (dateTime or Period.start).
    performed: date | None = None
    body_site: tuple[Coding, ...] = ()
    text: str | None = None
    #: ``Procedure.outcome`` codings and text, and free-text notes, for block-response detection.
    outcome: tuple[Coding, ...] = ()
    notes: tuple[str, ...] = ()
    #: What the PT region is read from (revision-2 C2): ``bodySite`` texts, ``reasonCode`` codings and texts,
    #: ``reasonReference`` / ``basedOn`` / ``encounter`` as ``Type/id``.
    body_site_texts: tuple[str, ...] = ()
    reason_codings: tuple[Coding, ...] = ()
    reason_texts: tuple[str, ...] = ()
    reason_refs: tuple[str, ...] = ()
    based_on: tuple[str, ...] = ()
    encounter: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceRequestFacts:
    ref: str
    codings: tuple[Coding, ...]
    status: str | None = None
    intent: str | None = None
    authored: date | None = None
    occurrence: date | None = None
    body_site: tuple[Coding, ...] = ()
    text: str | None = None
    notes: tuple[str, ...] = ()
    reason_refs: tuple[str, ...] = ()
    #: ``reasonCode`` codings and texts and ``bodySite`` texts (the region of a PT referral, revision-2 C2).
    reason_codings: tuple[Coding, ...] = ()
    reason_texts: tuple[str, ...] = ()
    body_site_texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DoseFacts:
    """One ``dosageInstruction``: enough to judge a daily dose (revision 2 C10: low-dose aspirin)."""

    text: str | None = None
    #: ``doseAndRate[0].doseQuantity`` value and unit (e.g. 81 mg, or 1 tablet).
    quantity: float | None = None
    unit: str | None = None
    #: Administrations per day from ``timing.repeat`` (frequency per period), when it says so.
    per_day: float | None = None


@dataclass(frozen=True, slots=True)
class MedicationRequestFacts:
    ref: str
    codings: tuple[Coding, ...]
    #: ``medicationCodeableConcept.text`` or coding displays, for the documented name fallback.
    text: str | None = None
    status: str | None = None
    intent: str | None = None
    authored: date | None = None
    #: ``reasonCode`` codings and text, and ``reasonReference`` as ``Type/id`` (revision 2 C12: opioid use
    #: disorder treatment is told apart by its reason).
    reason_codings: tuple[Coding, ...] = ()
    reason_texts: tuple[str, ...] = ()
    reason_refs: tuple[str, ...] = ()
    dosage: tuple[DoseFacts, ...] = ()


@dataclass(frozen=True, slots=True)
class ObservationFacts:
    ref: str
    codings: tuple[Coding, ...]
    status: str | None = None
    effective: date | None = None
    value_quantity: float | None = None
    value_unit: str | None = None
    value_codings: tuple[Coding, ...] = ()
    value_text: str | None = None
    #: ``partOf`` references (``Type/id``): the Procedure a block-relief outcome belongs to (revision-2 C16).
    part_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EncounterFacts:
    """An Encounter: a PT visit when its type or serviceType says so (revision-2 C3), and the visit a
    Procedure happened in (its reasons and diagnoses document the PT region, C2)."""

    ref: str
    status: str | None = None
    #: ``type`` and ``serviceType`` codings, and their texts.
    types: tuple[Coding, ...] = ()
    type_texts: tuple[str, ...] = ()
    #: Start of ``period`` (or its end when only that is known).
    start: date | None = None
    reason_codings: tuple[Coding, ...] = ()
    reason_texts: tuple[str, ...] = ()
    #: ``reasonReference`` and ``diagnosis.condition`` references, ``Type/id``.
    reason_refs: tuple[str, ...] = ()
    based_on: tuple[str, ...] = ()


OrderFacts = ServiceRequestFacts | MedicationRequestFacts


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """Everything the pathway may know about the patient in one request.

    ``draft_orders`` are the orders in ``context.draftOrders`` (order hooks only); ``selections`` the
    ``Type/id`` references of ``context.selections`` (order-select). ``skipped`` counts resources left out
    because a field the pathway relies on was invalid. ``unavailable`` names the optional prefetch keys
    (``medicationrequests``, ``observations``, ...) whose data could not be read: the pathway judges
    without them, never escalates, and says so on the cards they would have informed. ``notes`` says, for
    integration testers, what was skipped or cut short and why (resource types, element names and counts
    only: never patient data).
    """

    patient: PatientFacts | None = None
    conditions: tuple[ConditionFacts, ...] = ()
    procedures: tuple[ProcedureFacts, ...] = ()
    service_requests: tuple[ServiceRequestFacts, ...] = ()
    medication_requests: tuple[MedicationRequestFacts, ...] = ()
    observations: tuple[ObservationFacts, ...] = ()
    draft_orders: tuple[OrderFacts, ...] = ()
    selections: frozenset[str] = field(default_factory=frozenset)
    skipped: int = 0
    notes: tuple[str, ...] = ()
    encounters: tuple[EncounterFacts, ...] = ()
    unavailable: tuple[str, ...] = ()
