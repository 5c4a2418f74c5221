"""The builder reads the links revision 2 relies on: ``Observation.partOf`` (C16), an order's ``reasonCode`` (C18)."""

from __future__ import annotations

from typing import Any

from service.fhir.builder import build_record
from service.fhir.builder import parse_context
from service.fhir.coding import ICD10CM
from service.fhir.record import PatientRecord
from tests.unit.fhir.conftest import PATIENT_ID
from tests.unit.fhir.conftest import searchset

OUTCOME = "http://cgh-cds.example.org/fhir/CodeSystem/outcome"


def build(*sources: Any, context: dict[str, Any] | None = None) -> PatientRecord:
    return build_record(parse_context(context or {"patientId": PATIENT_ID}), sources)


def relief(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": OUTCOME, "code": "block-relief-percent"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": "2025-03-04",
        "valueQuantity": {"value": 85, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
        **extra,
    }


def test_observation_part_of_is_read_as_references() -> None:
    linked = relief(partOf=[{"reference": "Procedure/p1"}, {"reference": "https://ehr.example/fhir/Procedure/p2"}])
    (facts,) = build(searchset(linked)).observations
    assert facts.part_of == ("Procedure/p1", "Procedure/p2")
    (plain,) = build(searchset(relief())).observations
    assert plain.part_of == ()


def test_invalid_part_of_skips_the_observation() -> None:
    record = build(searchset(relief(partOf=["Procedure/p1"])))
    assert record.observations == () and record.skipped == 1


def test_draft_order_reason_codes_and_references() -> None:
    order = {
        "resourceType": "ServiceRequest",
        "id": "s1",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "64615"}]},
        "reasonCode": [{"coding": [{"system": ICD10CM, "code": "G43.709"}], "text": "chronic migraine"}],
        "reasonReference": [{"reference": "Condition/c1"}],
    }
    (draft,) = build(context={"patientId": PATIENT_ID, "draftOrders": order}).draft_orders
    assert [(coding.system, coding.code) for coding in draft.reason_codings] == [(ICD10CM, "G43709")]  # normalised
    assert draft.reason_refs == ("Condition/c1",)
