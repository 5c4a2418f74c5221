"""Turning the hook context and the FHIR resources of one request into a :class:`PatientRecord`.

Input is whatever JSON arrived: prefetch values and fetched pages (a resource, or a searchset, collection,
transaction or batch-response Bundle), and ``context.draftOrders``. The builder never raises for a
resource; only an unusable *context* is an error (:class:`BadRequestError`, 400).

Validation strategy, chosen for speed. Measured on the 2 MB Synthea bundle of ``tests/data/realworld``
(542 entries, 164 of them read): the record takes ~5 ms (validation verdicts cached) to ~14 ms (cold) on
top of ~10 ms of JSON parsing, where a full R4B model of its 141 Observations alone costs ~35 ms.

1. Entries are filtered by ``resourceType`` first (Patient, Condition, Procedure, ServiceRequest,
   MedicationRequest, Observation, Encounter; and for draft orders also DSTU2 ``MedicationOrder`` and STU3
   ``ProcedureRequest``). Everything else (Claims, EOBs: most of a Synthea bundle) is ignored without being
   looked at. Encounters are read for PT visits and PT regions (revision-2 C2, C3): with an
   ``encounter_filter``, only those it accepts (PT visits) and those a Procedure names as its ``encounter``.
2. Then by patient: ``subject`` (or DSTU2 ``patient``) must resolve to ``Patient/<context.patientId>``.
   References may be ``Type/id``, absolute URLs (``.../Patient/id[/_history/n]``) or ``urn:uuid:`` fullUrls
   resolved within the Bundle that carries them; ``urn:uuid:<patientId>`` also matches when the Patient is
   not in that Bundle (Synthea-style ids). Resources of other patients are ignored, not counted. A
   prefetched resource with no usable subject is skipped and counted (we cannot tell whose it is); a draft
   order without one belongs to the context's patient.
3. Only the elements the pathway reads are validated, with the fhir.resources R4B datatype models
   (:mod:`service.fhir.elements`): a full R4B model of each resource would cost ~250 µs per Observation and
   would reject real-client quirks we must tolerate (non-ASCII or over-long ids, draft MedicationRequests
   without ``intent``, ``category`` as an object). A resource invalid in an element we read is skipped and
   counted in ``PatientRecord.skipped``, with a note naming the type and element.

Resources are deduplicated by ``Type/id`` (first occurrence wins) and each tuple of facts is sorted by
reference, so the same data gives the same record whether it came from prefetch or from ``fhirServer``.
Draft orders keep the order of ``context.draftOrders``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from service.fhir.bundle import MAX_BUNDLE_DEPTH
from service.fhir.bundle import Entry
from service.fhir.bundle import HookContext
from service.fhir.bundle import flatten
from service.fhir.bundle import normalise_reference
from service.fhir.bundle import parse_context
from service.fhir.coding import Coding
from service.fhir.elements import InvalidElementError
from service.fhir.elements import codeable_concept
from service.fhir.readers import READERS
from service.fhir.readers import ResourceReader
from service.fhir.readers import encounter_types
from service.fhir.record import OrderFacts
from service.fhir.record import PatientFacts
from service.fhir.record import PatientRecord

#: Bundle handling lives in :mod:`service.fhir.bundle`; its names are re-exported for the callers of this module.
__all__ = [
    "MAX_BUNDLE_DEPTH",
    "Entry",
    "HookContext",
    "build_record",
    "flatten",
    "normalise_reference",
    "parse_context",
]

_PATIENT_RESOURCES = frozenset(
    {"Condition", "Procedure", "ServiceRequest", "MedicationRequest", "Observation", "Encounter"}
)
_ORDER_RESOURCES = frozenset({"ServiceRequest", "ProcedureRequest", "MedicationRequest", "MedicationOrder"})


class _Skips:
    """Counts resources left out because an element the pathway reads is invalid."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, resource_type: str, element: str) -> None:
        self.counts[(resource_type, element)] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def notes(self) -> tuple[str, ...]:
        return tuple(
            f"skipped {count} {resource_type} resource(s): {element} is missing or not valid FHIR R4"
            for (resource_type, element), count in sorted(self.counts.items())
        )


def build_record(
    context: HookContext,
    sources: Iterable[Any],
    *,
    notes: Iterable[str] = (),
    observation_filter: Callable[[tuple[Coding, ...]], bool] | None = None,
    encounter_filter: Callable[[tuple[Coding, ...], tuple[str, ...]], bool] | None = None,
    unavailable: tuple[str, ...] = (),
) -> PatientRecord:
    """The :class:`PatientRecord` for ``context`` from ``sources`` (prefetch values and fetched pages).

    ``notes`` (e.g. "stopped after the page cap") and ``unavailable`` (the optional prefetch keys that could
    not be read) are passed through to the record. ``observation_filter``,
    when given, is asked about each Observation's (valid) code before anything else of it is read; those it
    declines are left out of the record, not counted as skipped. ``encounter_filter`` likewise sees each
    Encounter's (valid) ``type`` and ``serviceType`` codings and texts; an Encounter it declines is still read
    when a Procedure of the record names it as its ``encounter`` (a real record holds a hundred visits, of which
    the pathway asks about PT visits and the visits of its procedures). Never raises.
    """
    patient_ref = f"Patient/{context.patient_id}"
    skips = _Skips()
    unique = {id(source): source for source in sources}  # the same Bundle sent for several keys is read once
    entries = [entry for source in unique.values() for entry in flatten(source)]
    medications = {
        entry.ref: entry.resource
        for entry in entries
        if entry.ref is not None and entry.resource.get("resourceType") == "Medication"
    }
    reader = ResourceReader(context.patient_id, medications)

    patient: PatientFacts | None = None
    facts: dict[str, dict[str, Any]] = {name: {} for name in _PATIENT_RESOURCES}
    # Read, skipped or another patient's: the same resource under several keys is looked at (and counted) once.
    seen: set[str] = set()
    seen_idless: set[int] = set()
    declined_encounters: list[Entry] = []
    for entry in entries:
        resource_type = entry.resource.get("resourceType")
        if resource_type == "Patient":
            if patient is not None or not (entry.ref == patient_ref or (entry.bare and entry.ref is None)):
                continue
            try:
                patient = reader.patient(entry.resource, patient_ref)
            except InvalidElementError as error:
                skips.add("Patient", error.element)
            continue
        if resource_type not in _PATIENT_RESOURCES:
            continue
        assert isinstance(resource_type, str)
        if entry.ref is None:
            if id(entry.resource) not in seen_idless:
                seen_idless.add(id(entry.resource))
                skips.add(resource_type, "id")
            continue
        if entry.ref in seen:
            continue
        seen.add(entry.ref)
        try:
            owner = reader.owner(entry)
            if owner is None:
                raise InvalidElementError("subject")
            if not owner:
                continue
            if observation_filter is not None and resource_type == "Observation":
                codings, _ = codeable_concept(entry.resource.get("code"), "code")
                if not observation_filter(codings):
                    continue
            if encounter_filter is not None and resource_type == "Encounter":
                types, type_texts = encounter_types(entry.resource)
                if not encounter_filter(types, type_texts):
                    declined_encounters.append(entry)
                    continue
            facts[resource_type][entry.ref] = READERS[resource_type](reader, entry)
        except InvalidElementError as error:
            skips.add(resource_type, error.element)
    visited = {p.encounter for p in facts["Procedure"].values() if p.encounter is not None}
    for entry in declined_encounters:
        if entry.ref is not None and entry.ref in visited:
            try:
                facts["Encounter"][entry.ref] = reader.encounter(entry)
            except InvalidElementError as error:
                skips.add("Encounter", error.element)

    draft_orders: list[OrderFacts] = []
    seen_orders: set[str] = set()
    for entry in context.draft_orders:
        resource_type = entry.resource.get("resourceType")
        if resource_type not in _ORDER_RESOURCES:
            continue
        assert isinstance(resource_type, str)
        if entry.ref is None:
            skips.add(resource_type, "id")
            continue
        if entry.ref in seen_orders:
            continue
        try:
            if reader.owner(entry) is False:
                continue
            if resource_type in ("MedicationRequest", "MedicationOrder"):
                draft_orders.append(reader.medication_request(entry))
            else:
                draft_orders.append(reader.service_request(entry))
            seen_orders.add(entry.ref)
        except InvalidElementError as error:
            skips.add(resource_type, error.element)

    def ordered(resource_type: str) -> tuple[Any, ...]:
        return tuple(facts[resource_type][ref] for ref in sorted(facts[resource_type]))

    return PatientRecord(
        patient=patient,
        conditions=ordered("Condition"),
        procedures=ordered("Procedure"),
        service_requests=ordered("ServiceRequest"),
        medication_requests=ordered("MedicationRequest"),
        observations=ordered("Observation"),
        draft_orders=tuple(draft_orders),
        selections=context.selections,
        skipped=skips.total,
        notes=tuple(notes) + skips.notes(),
        unavailable=unavailable,
        encounters=ordered("Encounter"),
    )
