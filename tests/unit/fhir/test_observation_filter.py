"""The Observation filter: records leave out Observations no rule reads, before their values are read."""

from __future__ import annotations

from typing import Any

from service.fhir.builder import build_record
from service.fhir.builder import parse_context
from service.fhir.coding import LOINC
from service.fhir.coding import Coding
from tests.unit.fhir.conftest import PATIENT_ID
from tests.unit.fhir.conftest import patient
from tests.unit.fhir.conftest import searchset

WANTED = "http://example.org/outcome"


def _observation(obs_id: str, system: str, code: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": obs_id, "status": "final",
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "code": {"coding": [{"system": system, "code": code}]},
            "effectiveDateTime": "2025-05-01", **fields}


def _wanted(codings: tuple[Coding, ...]) -> bool:
    return any(coding.system == WANTED for coding in codings)


def test_unread_observations_are_left_out_without_counting_as_skipped() -> None:
    bundle = searchset(
        patient(),
        _observation("kept", WANTED, "headache-days", valueQuantity={"value": 9}),
        _observation("vital", LOINC, "8867-4", valueQuantity={"value": "not a number"}),  # invalid, but unread
    )
    context = parse_context({"patientId": PATIENT_ID, "userId": "Practitioner/1"})
    filtered = build_record(context, [bundle], observation_filter=_wanted)
    assert [o.ref for o in filtered.observations] == ["Observation/kept"]
    assert filtered.skipped == 0
    unfiltered = build_record(context, [bundle])
    assert [o.ref for o in unfiltered.observations] == ["Observation/kept"]
    assert unfiltered.skipped == 1  # without the filter the invalid vital sign is read, and skipped


def test_an_observation_with_an_invalid_code_is_still_skipped_and_counted() -> None:
    observation = _observation("bad", WANTED, "x")
    observation["code"] = {"coding": "oops"}
    bundle = searchset(patient(), observation)
    context = parse_context({"patientId": PATIENT_ID, "userId": "Practitioner/1"})
    record = build_record(context, [bundle], observation_filter=_wanted)
    assert record.observations == () and record.skipped == 1
