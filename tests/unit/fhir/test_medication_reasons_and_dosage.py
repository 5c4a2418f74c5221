"""MedicationRequest reasons and dosage (revision 2 C10 low-dose aspirin, C12 opioid use disorder treatment):
read as given, and leniently, since a malformed reason or dose must never drop the order itself."""

from __future__ import annotations

from typing import Any

import pytest

from service.fhir.builder import build_record
from service.fhir.builder import parse_context
from service.fhir.coding import ICD10CM
from service.fhir.record import DoseFacts
from service.fhir.record import MedicationRequestFacts
from tests.unit.fhir.conftest import PATIENT_ID


def _draft(**elements: Any) -> MedicationRequestFacts:
    order = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": "aspirin 81 mg"},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        **elements,
    }
    context = parse_context(
        {"patientId": PATIENT_ID, "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]}}
    )
    (drafted,) = build_record(context, []).draft_orders
    assert isinstance(drafted, MedicationRequestFacts)
    return drafted


def test_reasons_are_read() -> None:
    order = _draft(
        reasonCode=[{"coding": [{"system": ICD10CM, "code": "F11.20"}], "text": "opioid dependence"}],
        reasonReference=[{"reference": "Condition/c1"}, {"reference": "http://ehr.example.org/fhir/Condition/c2"}],
    )
    assert [(c.system, c.code) for c in order.reason_codings] == [(ICD10CM, "F1120")]
    assert order.reason_texts == ("opioid dependence",)
    assert order.reason_refs == ("Condition/c1", "Condition/c2")


@pytest.mark.parametrize(
    ("timing", "per_day"),
    [
        ({"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}, 1.0),
        ({"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}, 2.0),
        ({"repeat": {"frequency": 1, "period": 8, "periodUnit": "h"}}, 3.0),
        ({"repeat": {"period": 1, "periodUnit": "wk"}}, 1 / 7),
        ({"repeat": {"frequency": 1, "period": 0, "periodUnit": "d"}}, None),
        ({"repeat": {"frequency": 1, "period": 1, "periodUnit": "fortnight"}}, None),
        ({"code": {"text": "at night"}}, None),
        ("daily", None),
    ],
)
def test_administrations_a_day_from_timing(timing: Any, per_day: float | None) -> None:
    (dose,) = _draft(dosageInstruction=[{"timing": timing}]).dosage
    assert dose.per_day == (pytest.approx(per_day) if per_day is not None else None)


def test_dose_quantity_and_text() -> None:
    order = _draft(
        dosageInstruction=[
            {"text": "81 mg once a day", "doseAndRate": [{"doseQuantity": {"value": 81, "unit": "mg"}}]},
            {"doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}]},
        ]
    )
    assert order.dosage == (DoseFacts("81 mg once a day", 81.0, "mg", None), DoseFacts(None, 2.0, "tablet", None))


def test_older_fhir_versions_reason_and_dose() -> None:
    order = _draft(
        reasonCodeableConcept={"coding": [{"system": ICD10CM, "code": "F11.20"}]},
        dosageInstruction=[{"doseQuantity": {"value": 75, "unit": "mg"}}],
    )
    assert [c.code for c in order.reason_codings] == ["F1120"]
    assert order.dosage == (DoseFacts(None, 75.0, "mg", None),)


@pytest.mark.parametrize(
    "elements",
    [
        {"reasonCode": "F11.20"},
        {"reasonCode": [{"coding": "F11.20"}]},
        {"reasonReference": [{"reference": 7}, "Condition/c1"]},
        {"dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": "eighty-one"}}]}]},
        {"dosageInstruction": ["once a day", 3]},
    ],
)
def test_malformed_reasons_and_dosage_never_drop_the_order(elements: dict[str, Any]) -> None:
    order = _draft(**elements)
    assert order.ref == "MedicationRequest/m1" and order.text == "aspirin 81 mg"
