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

import math
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from service.errors import BadRequestError
from service.fhir.coding import Coding
from service.fhir.elements import InvalidElementError
from service.fhir.elements import annotation_texts
from service.fhir.elements import as_list
from service.fhir.elements import codeable_concept
from service.fhir.elements import concept_code
from service.fhir.elements import fhir_date
from service.fhir.elements import fhir_datetime
from service.fhir.elements import period_start
from service.fhir.elements import quantity
from service.fhir.elements import string
from service.fhir.record import ConditionFacts
from service.fhir.record import DoseFacts
from service.fhir.record import EncounterFacts
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import ObservationFacts
from service.fhir.record import OrderFacts
from service.fhir.record import PatientFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts

#: Bundles inside Bundles (batch-response of searchsets) are read this deep; deeper ones are ignored.
MAX_BUNDLE_DEPTH = 3

_PATIENT_RESOURCES = frozenset(
    {"Condition", "Procedure", "ServiceRequest", "MedicationRequest", "Observation", "Encounter"}
)
_ORDER_RESOURCES = frozenset({"ServiceRequest", "ProcedureRequest", "MedicationRequest", "MedicationOrder"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource with what is needed to read it: its ``Type/id`` and its Bundle's fullUrl map."""

    resource: dict[str, Any]
    ref: str | None
    full_urls: Mapping[str, str]
    #: True when the resource was a prefetch/fetch value on its own (a read), not a Bundle entry.
    bare: bool = False


@dataclass(frozen=True, slots=True)
class HookContext:
    """The parts of ``context`` the record is built from, checked once."""

    patient_id: str
    draft_orders: tuple[Entry, ...] = ()
    selections: frozenset[str] = frozenset()


def parse_context(context: Any) -> HookContext:
    """The patient id, draft orders and selections of a hook ``context``.

    :raises BadRequestError: ``context`` is not an object, ``patientId`` is missing or not a string,
        ``draftOrders`` is not a FHIR resource or Bundle, or ``selections`` is not an array of strings.
    """
    if not isinstance(context, Mapping):
        raise BadRequestError("context must be a JSON object holding the hook's context fields")
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not patient_id.strip():
        raise BadRequestError("context.patientId is required: the FHIR id of the patient (without 'Patient/')")
    selections = context.get("selections")
    if selections is None:
        selections = []
    if not isinstance(selections, list) or not all(isinstance(item, str) for item in selections):
        raise BadRequestError("context.selections must be an array of 'Type/id' strings")
    return HookContext(
        patient_id=patient_id.strip(),
        draft_orders=_draft_order_entries(context.get("draftOrders")),
        selections=frozenset(item.strip() for item in selections if item.strip()),
    )


def _draft_order_entries(draft_orders: Any) -> tuple[Entry, ...]:
    if draft_orders is None:
        return ()
    if not isinstance(draft_orders, dict):
        raise BadRequestError("context.draftOrders must be a FHIR Bundle of the orders being drafted")
    resource_type = draft_orders.get("resourceType")
    if resource_type == "Bundle" or (resource_type is None and "entry" in draft_orders):
        entry = draft_orders.get("entry")
        if entry is not None and not isinstance(entry, list):
            raise BadRequestError("context.draftOrders.entry must be an array of Bundle entries")
        # CDS Hooks Sandbox: draftOrders Bundles come without `type`; accept any Bundle type.
        return tuple(flatten(draft_orders))
    if isinstance(resource_type, str):
        return tuple(flatten(draft_orders))
    raise BadRequestError("context.draftOrders must be a FHIR Bundle (resourceType 'Bundle') of draft orders")


def flatten(value: Any, *, depth: int = 0) -> Iterator[Entry]:
    """Every resource in ``value`` (a resource or a Bundle, possibly nested), with its ``Type/id``."""
    if not isinstance(value, dict):
        return
    resource_type = value.get("resourceType")
    if resource_type != "Bundle" and not (depth == 0 and resource_type is None and "entry" in value):
        if isinstance(resource_type, str):
            yield Entry(value, _own_ref(value, None), {}, bare=True)
        return
    if depth >= MAX_BUNDLE_DEPTH:
        return
    entries = [e for e in as_list(value.get("entry")) if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    full_urls: dict[str, str] = {}
    refs: list[str | None] = []
    for entry in entries:
        full_url = entry.get("fullUrl")
        ref = _own_ref(entry["resource"], full_url if isinstance(full_url, str) else None)
        refs.append(ref)
        if ref is not None and isinstance(full_url, str) and full_url.strip():
            full_urls[full_url.strip()] = ref
    for entry, ref in zip(entries, refs, strict=True):
        resource = entry["resource"]
        if resource.get("resourceType") == "Bundle":
            yield from flatten(resource, depth=depth + 1)
        elif isinstance(resource.get("resourceType"), str):
            yield Entry(resource, ref, full_urls)


def _own_ref(resource: dict[str, Any], full_url: str | None) -> str | None:
    """``Type/id`` of a resource; a transaction entry without ``id`` takes it from a ``urn:uuid:`` fullUrl."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return None
    resource_id = resource.get("id")
    if isinstance(resource_id, str) and resource_id.strip() and "/" not in resource_id:
        return f"{resource_type}/{resource_id.strip()}"
    if full_url and full_url.startswith("urn:uuid:") and len(full_url) > len("urn:uuid:"):
        return f"{resource_type}/{full_url[len('urn:uuid:') :]}"
    return None


def normalise_reference(reference: str, full_urls: Mapping[str, str]) -> str | None:
    """``Type/id`` for a literal reference, or ``None`` when it cannot be resolved.

    Accepts ``Type/id``, ``Type/id/_history/n``, absolute URLs ending in either, and fullUrls of the same
    Bundle (``urn:uuid:...`` or absolute). Contained (``#id``), conditional (``Type?...``) and unresolved
    ``urn:`` references give ``None``.
    """
    ref = reference.strip()
    if ref in full_urls:
        return full_urls[ref]
    if not ref or ref.startswith(("urn:", "#")) or "?" in ref:
        return None
    path = ref.split("://", 1)[1].partition("/")[2] if "://" in ref else ref
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-2][:1].isupper():
        return None
    return f"{parts[-2]}/{parts[-1]}"


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
) -> PatientRecord:
    """The :class:`PatientRecord` for ``context`` from ``sources`` (prefetch values and fetched pages).

    ``notes`` (e.g. "stopped after the page cap") are passed through to the record. ``observation_filter``,
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
    reader = _Reader(context.patient_id, medications)

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
                types, type_texts = _encounter_types(entry.resource)
                if not encounter_filter(types, type_texts):
                    declined_encounters.append(entry)
                    continue
            facts[resource_type][entry.ref] = _READERS[resource_type](reader, entry)
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
        encounters=ordered("Encounter"),
    )


class _Reader:
    """Reads the elements the pathway relies on from one resource; raises InvalidElementError."""

    def __init__(self, patient_id: str, medications: Mapping[str, dict[str, Any]]) -> None:
        self.patient_id = patient_id
        self.patient_ref = f"Patient/{patient_id}"
        self.medications = medications

    def owner(self, entry: Entry) -> bool | None:
        """True: the context's patient; False: someone (or something) else; None: no usable subject."""
        resource = entry.resource
        subject = resource.get("subject")
        if subject is None:
            subject = resource.get("patient")  # DSTU2 MedicationOrder / Condition
        if subject is None:
            return None
        if not isinstance(subject, dict):
            raise InvalidElementError("subject")
        reference = string(subject.get("reference"), "subject.reference")
        if reference is None:
            return None
        if reference == f"urn:uuid:{self.patient_id}":
            return True
        return normalise_reference(reference, entry.full_urls) == self.patient_ref

    def patient(self, resource: dict[str, Any], ref: str) -> PatientFacts:
        deceased_at = fhir_datetime(resource.get("deceasedDateTime"), "deceasedDateTime")
        deceased_flag = resource.get("deceasedBoolean")
        if deceased_flag is not None and not isinstance(deceased_flag, bool):
            raise InvalidElementError("deceasedBoolean")
        return PatientFacts(
            ref=ref,
            birth_date=fhir_date(resource.get("birthDate"), "birthDate"),
            gender=string(resource.get("gender"), "gender"),
            deceased=bool(deceased_flag) or deceased_at is not None,
        )

    def condition(self, entry: Entry) -> ConditionFacts:
        resource = entry.resource
        codings, text = _code(resource.get("code"))
        assert entry.ref is not None
        return ConditionFacts(
            ref=entry.ref,
            codings=codings,
            text=text,
            clinical_status=concept_code(resource.get("clinicalStatus"), "clinicalStatus"),
            verification_status=concept_code(resource.get("verificationStatus"), "verificationStatus"),
            onset=_choice_date(resource, "onset"),
            abatement=_choice_date(resource, "abatement"),
            recorded=fhir_datetime(resource.get("recordedDate"), "recordedDate"),
        )

    def procedure(self, entry: Entry) -> ProcedureFacts:
        resource = entry.resource
        codings, text = _code(resource.get("code"))
        outcome, outcome_text = codeable_concept(resource.get("outcome"), "outcome")
        notes = annotation_texts(resource.get("note"), "note")
        body_site, body_site_texts = _concepts(resource.get("bodySite"), "bodySite")
        reason_codings, reason_texts = _concepts(resource.get("reasonCode"), "reasonCode")
        encounters = _references(resource.get("encounter"), "encounter", entry)
        assert entry.ref is not None
        return ProcedureFacts(
            ref=entry.ref,
            codings=codings,
            status=string(resource.get("status"), "status"),
            performed=_choice_date(resource, "performed"),
            body_site=body_site,
            text=text,
            outcome=outcome,
            notes=((outcome_text,) if outcome_text else ()) + notes,
            body_site_texts=body_site_texts,
            reason_codings=reason_codings,
            reason_texts=reason_texts,
            reason_refs=_references(resource.get("reasonReference"), "reasonReference", entry),
            based_on=_references(resource.get("basedOn"), "basedOn", entry),
            encounter=encounters[0] if encounters else None,
        )

    def encounter(self, entry: Entry) -> EncounterFacts:
        resource = entry.resource
        types, type_texts = _encounter_types(resource)
        reason_codings, reason_texts = _concepts(resource.get("reasonCode"), "reasonCode")
        diagnoses: list[Any] = []
        for diagnosis in as_list(resource.get("diagnosis")):
            if not isinstance(diagnosis, dict):
                raise InvalidElementError("diagnosis")
            diagnoses.append(diagnosis.get("condition"))
        assert entry.ref is not None
        return EncounterFacts(
            ref=entry.ref,
            status=string(resource.get("status"), "status"),
            types=types,
            type_texts=type_texts,
            start=period_start(resource.get("period"), "period"),
            reason_codings=reason_codings,
            reason_texts=reason_texts,
            reason_refs=_references(resource.get("reasonReference"), "reasonReference", entry)
            + _references(diagnoses, "diagnosis.condition", entry),
            based_on=_references(resource.get("basedOn"), "basedOn", entry),
        )

    def service_request(self, entry: Entry) -> ServiceRequestFacts:
        resource = entry.resource
        codings, text = _code(resource.get("code"))
        body_site, body_site_texts = _concepts(resource.get("bodySite"), "bodySite")
        reason_codings, reason_texts = _concepts(resource.get("reasonCode"), "reasonCode")
        reason_refs = _references(resource.get("reasonReference"), "reasonReference", entry)
        assert entry.ref is not None
        return ServiceRequestFacts(
            ref=entry.ref,
            codings=codings,
            status=string(resource.get("status"), "status"),
            intent=string(resource.get("intent"), "intent"),
            authored=fhir_datetime(resource.get("authoredOn"), "authoredOn"),
            occurrence=_choice_date(resource, "occurrence"),
            body_site=body_site,
            text=text,
            notes=annotation_texts(resource.get("note"), "note"),
            reason_refs=reason_refs,
            reason_codings=reason_codings,
            reason_texts=reason_texts,
            body_site_texts=body_site_texts,
        )

    def medication_request(self, entry: Entry) -> MedicationRequestFacts:
        resource = entry.resource
        codings, text = self._medication(entry)
        authored = resource.get("authoredOn")
        authored_element = "authoredOn"
        if authored is None and resource.get("resourceType") == "MedicationOrder":
            authored, authored_element = resource.get("dateWritten"), "dateWritten"  # DSTU2
        assert entry.ref is not None
        return MedicationRequestFacts(
            ref=entry.ref,
            codings=codings,
            text=text,
            status=string(resource.get("status"), "status"),
            # The Sandbox's R4 drafts have no `intent` (CDS Hooks pitfall 17): read as None, not invalid.
            intent=string(resource.get("intent"), "intent"),
            authored=fhir_datetime(authored, authored_element),
            **_medication_reasons(resource, entry.full_urls),
            dosage=_dosage(resource),
        )

    def _medication(self, entry: Entry) -> tuple[tuple[Coding, ...], str | None]:
        resource = entry.resource
        concept = resource.get("medicationCodeableConcept")
        if concept is not None:
            return _code(concept, "medicationCodeableConcept")
        reference = resource.get("medicationReference")
        if reference is None:
            return (), None
        if not isinstance(reference, dict):
            raise InvalidElementError("medicationReference")
        target = string(reference.get("reference"), "medicationReference.reference")
        medication: Any = None
        if target and target.startswith("#"):
            medication = next(
                (
                    item
                    for item in as_list(resource.get("contained"))
                    if isinstance(item, dict)
                    and item.get("resourceType") == "Medication"
                    and item.get("id") == target[1:]
                ),
                None,
            )
        elif target:
            resolved = normalise_reference(target, entry.full_urls)
            medication = self.medications.get(resolved) if resolved else None
        display = string(reference.get("display"), "medicationReference.display")
        if not isinstance(medication, dict):
            return (), display
        codings, text = _code(medication.get("code"), "Medication.code")
        return codings, text or display

    def observation(self, entry: Entry) -> ObservationFacts:
        resource = entry.resource
        codings, _ = codeable_concept(resource.get("code"), "code")
        value, unit = quantity(resource.get("valueQuantity"), "valueQuantity")
        value_codings, value_concept_text = codeable_concept(
            resource.get("valueCodeableConcept"), "valueCodeableConcept"
        )
        value_string = string(resource.get("valueString"), "valueString")
        assert entry.ref is not None
        return ObservationFacts(
            ref=entry.ref,
            codings=codings,
            status=string(resource.get("status"), "status"),
            effective=_choice_date(resource, "effective"),
            value_quantity=value,
            value_unit=unit,
            value_codings=value_codings,
            value_text=value_string or value_concept_text,
            part_of=_references(resource.get("partOf"), "partOf", entry),
        )


def _medication_reasons(resource: dict[str, Any], full_urls: Mapping[str, str]) -> dict[str, Any]:
    """``reasonCode`` and ``reasonReference`` of a medication order, read leniently.

    A malformed reason reads as absent rather than skipping the order: the order itself (an opioid, an
    NSAID) is what the safety cards are about, and a reason only ever *excludes* one (revision 2 C12).
    """
    codings: list[Coding] = []
    texts: list[str] = []
    # R4/STU3 reasonCode (array); DSTU2 MedicationOrder reasonCodeableConcept (single).
    for reason in [*as_list(resource.get("reasonCode")), *as_list(resource.get("reasonCodeableConcept"))]:
        try:
            found, text = codeable_concept(reason, "reasonCode")
        except InvalidElementError:
            continue
        codings.extend(found)
        texts.extend([text] if text else [])
    refs: list[str] = []
    for reason in as_list(resource.get("reasonReference")):
        reference = reason.get("reference") if isinstance(reason, dict) else None
        resolved = normalise_reference(reference, full_urls) if isinstance(reference, str) else None
        if resolved:
            refs.append(resolved)
    return {"reason_codings": tuple(codings), "reason_texts": tuple(texts), "reason_refs": tuple(refs)}


#: ``Timing.repeat.periodUnit`` in days (UCUM units of time FHIR allows there).
_PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}


def _dosage(resource: dict[str, Any]) -> tuple[DoseFacts, ...]:
    """Each ``dosageInstruction``, read leniently: a part that is not valid FHIR reads as absent, never as a
    reason to drop the order. The dose is R4 ``doseAndRate[0].doseQuantity``, else STU3/DSTU2 ``doseQuantity``."""
    doses: list[DoseFacts] = []
    for dosage in as_list(resource.get("dosageInstruction")):
        if not isinstance(dosage, dict):
            continue
        text = dosage.get("text") if isinstance(dosage.get("text"), str) else None
        amount: float | None = None
        unit: str | None = None
        rates = [item for item in as_list(dosage.get("doseAndRate")) if isinstance(item, dict)]
        dose = rates[0].get("doseQuantity") if rates else dosage.get("doseQuantity")
        try:
            amount, unit = quantity(dose, "doseQuantity")
        except InvalidElementError:
            amount, unit = None, None
        doses.append(DoseFacts(text=text, quantity=amount, unit=unit, per_day=_per_day(dosage.get("timing"))))
    return tuple(doses)


def _per_day(timing: Any) -> float | None:
    repeat = timing.get("repeat") if isinstance(timing, dict) else None
    if not isinstance(repeat, dict):
        return None
    frequency = _positive_number(repeat.get("frequency", 1))
    period = _positive_number(repeat.get("period"))
    unit = repeat.get("periodUnit")
    days = _PERIOD_DAYS.get(unit) if isinstance(unit, str) else None
    if frequency is None or period is None or days is None:
        return None
    return frequency / (period * days)


def _positive_number(value: Any) -> float | None:
    # Finite only: a feed's overflow or NaN says nothing about how often a dose is taken.
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < math.inf:
        return float(value)
    return None


def _references(value: Any, element: str, entry: Entry) -> tuple[str, ...]:
    """The ``Type/id`` of each resolvable Reference in ``value`` (a Reference or an array of them)."""
    refs: list[str] = []
    for item in as_list(value):
        if not isinstance(item, dict):
            raise InvalidElementError(element)
        reference = string(item.get("reference"), f"{element}.reference")
        resolved = normalise_reference(reference, entry.full_urls) if reference else None
        if resolved:
            refs.append(resolved)
    return tuple(refs)


def _code(value: Any, element: str = "code") -> tuple[tuple[Coding, ...], str | None]:
    """Codings and a readable name: the concept's text, else the first coding display."""
    codings, text = codeable_concept(value, element)
    if text is None:
        text = next((coding.display for coding in codings if coding.display), None)
    return codings, text


def _encounter_types(resource: dict[str, Any]) -> tuple[tuple[Coding, ...], tuple[str, ...]]:
    """``Encounter.type`` and ``serviceType``: codings and texts."""
    types, type_texts = _concepts(resource.get("type"), "type")
    service_types, service_texts = _concepts(resource.get("serviceType"), "serviceType")
    return types + service_types, type_texts + service_texts


def _concepts(value: Any, element: str) -> tuple[tuple[Coding, ...], tuple[str, ...]]:
    """The codings and the texts of a CodeableConcept array (or of a lone CodeableConcept)."""
    codings: list[Coding] = []
    texts: list[str] = []
    for item in as_list(value):
        item_codings, item_text = codeable_concept(item, element)
        codings.extend(item_codings)
        texts.extend([item_text] if item_text else [])
    return tuple(codings), tuple(texts)


def _choice_date(resource: dict[str, Any], name: str) -> date | None:
    """The date of a ``name[x]`` choice: ``dateTime``, ``instant`` or ``Period`` (start, else end).

    Other choices (Age, Range, string, Timing, boolean) carry no calendar date and read as ``None``.
    """
    value = resource.get(f"{name}DateTime")
    if value is not None:
        return fhir_datetime(value, f"{name}DateTime")
    value = resource.get(f"{name}Instant")
    if value is not None:
        return fhir_datetime(value, f"{name}Instant")
    return period_start(resource.get(f"{name}Period"), f"{name}Period")


_READERS: Mapping[str, Callable[[_Reader, Entry], Any]] = {
    "Condition": _Reader.condition,
    "Procedure": _Reader.procedure,
    "ServiceRequest": _Reader.service_request,
    "MedicationRequest": _Reader.medication_request,
    "Observation": _Reader.observation,
    "Encounter": _Reader.encounter,
}
