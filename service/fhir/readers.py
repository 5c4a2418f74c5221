"""Reading the elements the pathway relies on from one resource into its facts; an invalid element raises
:class:`InvalidElementError` (the builder skips and counts the resource)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from datetime import date
from typing import Any

from service.fhir.bundle import Entry
from service.fhir.bundle import normalise_reference
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
from service.fhir.medication_order import dosage_instructions
from service.fhir.medication_order import medication_reasons
from service.fhir.record import ConditionFacts
from service.fhir.record import EncounterFacts
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import ObservationFacts
from service.fhir.record import PatientFacts
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts


class ResourceReader:
    """Reads the elements the pathway relies on from one resource; raises InvalidElementError."""

    def __init__(self, patient_id: str, medications: Mapping[str, dict[str, Any]]) -> None:
        self.patient_id = patient_id
        self.patient_ref = f"Patient/{patient_id}"
        # Built once: owner() compares every resource's subject with it.
        self._patient_urn = f"urn:uuid:{patient_id}"
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
        if reference == self._patient_urn:
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
        types, type_texts = encounter_types(resource)
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
            **medication_reasons(resource, entry.full_urls),
            dosage=dosage_instructions(resource),
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


def encounter_types(resource: dict[str, Any]) -> tuple[tuple[Coding, ...], tuple[str, ...]]:
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


READERS: Mapping[str, Callable[[ResourceReader, Entry], Any]] = {
    "Condition": ResourceReader.condition,
    "Procedure": ResourceReader.procedure,
    "ServiceRequest": ResourceReader.service_request,
    "MedicationRequest": ResourceReader.medication_request,
    "Observation": ResourceReader.observation,
    "Encounter": ResourceReader.encounter,
}
