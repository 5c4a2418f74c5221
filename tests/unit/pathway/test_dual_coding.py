"""Dual coding (revision-2 §3): a Condition, order or medication matches when ANY of its codings matches.

Real records carry SNOMED CT beside ICD-10-CM on one Condition (problem lists), RxNorm beside NDC (and local
codes) on one medication, and name the systems by OID or with ``https``. Resources here are written the way
Synthea and EHR feeds write them and go through the real record builder; codes come from the value sets
(``builders.member``), so nothing clinical is pasted.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.fhir.builder import build_record
from service.fhir.builder import parse_context
from service.fhir.coding import ICD10CM
from service.fhir.coding import NDC
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.fhir.coding import Coding
from service.fhir.coding import normalise
from service.fhir.record import PatientRecord
from service.pathway import Moment
from service.pathway import evaluate
from service.pathway.facts import OrderKind
from service.pathway.facts import differentials
from service.pathway.facts import draft_orders
from service.pathway.facts import manipulation_contraindications
from service.pathway.terminology import ValueSetId as VS
from service.pathway.terminology import value_set
from tests.unit.pathway.builders import TODAY
from tests.unit.pathway.builders import member

PATIENT = "c20ccf5d-19ac-4dfe-bdc3-3d1d6344facc"
OIDS = {
    SNOMED: "urn:oid:2.16.840.1.113883.6.96",
    ICD10CM: "urn:oid:2.16.840.1.113883.6.90",
    RXNORM: "urn:oid:2.16.840.1.113883.6.88",
    NDC: "urn:oid:2.16.840.1.113883.6.69",
}
#: A Synthea SNOMED finding that no value set of the pathway lists (acute bronchitis).
UNRELATED_SNOMED = normalise(SNOMED, "10509002", "Acute bronchitis (disorder)")
#: An Epic-style local medication code: a real feed's own identifier, in no value set.
LOCAL_MEDICATION_SYSTEM = "urn:oid:1.2.840.114350.1.13.0.1.7.2.698288"
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

MIGRAINE_SNOMED = member(VS.DIFFERENTIAL_MIGRAINE, "124171000119105")
MIGRAINE_ICD = member(VS.DIFFERENTIAL_MIGRAINE, "G43.909")
HEADACHE_ICD = member(VS.HEADACHE_SYMPTOMS, "R51.9")
RA_SNOMED = member(VS.MANIPULATION_CONTRAINDICATIONS, "69896004")
RA_ICD = member(VS.MANIPULATION_CONTRAINDICATIONS, "M06.9")
CGH_ICD = member(VS.CGH_DX_SPECIFIC, "G44.86")
VICODIN_SBD = member(VS.OPIOIDS, "856907")
PERCOCET_NDC = member(VS.OPIOIDS, "16590-619-30")
MANIPULATION_SNOMED = member(VS.MANIPULATION, "46947000")


def _listed(coding: Coding) -> str:
    """The code as the value set writes it (ICD-10-CM with its dot, NDC hyphenated)."""
    for vs in (value_set(vs_id) for vs_id in VS):
        for entry in vs.entries():
            if not entry.family and normalise(entry.system, entry.code) == normalise(coding.system, coding.code):
                return entry.code
    return coding.code


def _json_coding(coding: Coding | None, system: str | None = None, code: str | None = None) -> dict[str, Any]:
    assert coding is not None
    return {"system": system or coding.system, "code": code or _listed(coding), "display": coding.display}


def synthea_condition(ident: str, *codings: dict[str, Any], text: str, status: str = "active") -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{ident}",
        "resource": {
            "resourceType": "Condition",
            "id": ident,
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]
            },
            "verificationStatus": {"coding": [{"system": VERIFICATION_SYSTEM, "code": "confirmed"}]},
            "code": {"coding": list(codings), "text": text},
            "subject": {"reference": f"urn:uuid:{PATIENT}"},
            "onsetDateTime": "2025-03-10T07:46:10+00:00",
            "recordedDate": "2025-03-10T07:46:10+00:00",
        },
    }


def _bundle(*entries: dict[str, Any]) -> dict[str, Any]:
    patient = {
        "fullUrl": f"urn:uuid:{PATIENT}",
        "resource": {"resourceType": "Patient", "id": PATIENT, "birthDate": "1980-04-02", "gender": "female"},
    }
    return {"resourceType": "Bundle", "type": "transaction", "entry": [patient, *entries]}


def _record(*entries: dict[str, Any], draft_orders_: list[dict[str, Any]] | None = None) -> PatientRecord:
    context: dict[str, Any] = {"patientId": PATIENT}
    if draft_orders_:
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": order} for order in draft_orders_]}
    return build_record(parse_context(context), [_bundle(*entries)])


# ---------------------------------------------------------------------------------------------- Conditions


@pytest.mark.parametrize(
    ("codings", "why"),
    [
        ([_json_coding(MIGRAINE_SNOMED), _json_coding(HEADACHE_ICD)], "SNOMED matches, ICD-10-CM does not"),
        ([_json_coding(UNRELATED_SNOMED), _json_coding(MIGRAINE_ICD)], "ICD-10-CM matches, SNOMED does not"),
        ([_json_coding(MIGRAINE_SNOMED), _json_coding(MIGRAINE_ICD)], "both match"),
        (
            [
                _json_coding(MIGRAINE_SNOMED, system=OIDS[SNOMED]),
                _json_coding(HEADACHE_ICD, system=OIDS[ICD10CM], code="R519"),
            ],
            "SNOMED by OID",
        ),
        (
            [
                _json_coding(UNRELATED_SNOMED, system="https://snomed.info/sct"),
                _json_coding(MIGRAINE_ICD, system=OIDS[ICD10CM], code="G43909"),
            ],
            "ICD-10-CM by OID and without its dot",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_dual_coded_condition_matches_on_any_coding(codings: list[dict[str, Any]], why: str) -> None:
    record = _record(synthea_condition("mig1", *codings, text="Chronic migraine"))
    found = differentials(record, TODAY)
    assert [finding.ref for finding in found] == ["Condition/mig1"], why


def test_a_condition_coded_twice_in_one_group_is_one_finding() -> None:
    record = _record(
        synthea_condition("ra1", _json_coding(RA_SNOMED), _json_coding(RA_ICD), text="Rheumatoid arthritis")
    )
    found = manipulation_contraindications(record, TODAY, (), ())
    assert [finding.ref for finding in found] == ["Condition/ra1"]


def test_no_coding_in_the_value_set_means_no_match() -> None:
    record = _record(
        synthea_condition("other", _json_coding(UNRELATED_SNOMED), _json_coding(HEADACHE_ICD), text="Bronchitis")
    )
    assert differentials(record, TODAY) == ()
    assert manipulation_contraindications(record, TODAY, (), ()) == ()


def test_a_synthea_style_record_gets_the_differential_card_once() -> None:
    record = _record(
        synthea_condition("cgh1", _json_coding(UNRELATED_SNOMED), _json_coding(CGH_ICD), text="Cervicogenic headache"),
        synthea_condition("mig1", _json_coding(MIGRAINE_SNOMED), _json_coding(MIGRAINE_ICD), text="Chronic migraine"),
    )
    advice = {item.recommendation.value: item for item in evaluate(record, Moment.RECORD_REVIEW, TODAY)}
    assert "differential-diagnosis" in advice
    refs = [trigger.ref for trigger in advice["differential-diagnosis"].triggers]
    assert refs.count("Condition/mig1") == 1


# ---------------------------------------------------------------------------------------- medications, orders


def _medication_request(ident: str, *codings: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"coding": list(codings), "text": text},
        "subject": {"reference": f"Patient/{PATIENT}"},
    }


def _kinds(*orders: dict[str, Any]) -> list[frozenset[OrderKind]]:
    return [order.kinds for order in draft_orders(_record(draft_orders_=list(orders)), Moment.ORDER_SIGN)]


@pytest.mark.parametrize(
    "codings",
    [
        # RxNorm SBD matches; the NDC beside it is of another package (not listed).
        [_json_coding(VICODIN_SBD), {"system": NDC, "code": "0000-0000-00", "display": "Vicodin"}],
        # The NDC matches; the feed's own local code beside it does not.
        [{"system": LOCAL_MEDICATION_SYSTEM, "code": "12345"}, {**_json_coding(PERCOCET_NDC), "display": None}],
        # NDC by OID, in its 11-digit billing form (5-4-2), beside the local code.
        [{"system": LOCAL_MEDICATION_SYSTEM, "code": "12345"},
         _json_coding(PERCOCET_NDC, system=OIDS[NDC], code="16590061930")],
        # RxNorm by OID beside an NDC.
        [_json_coding(VICODIN_SBD, system=OIDS[RXNORM]), {"system": NDC, "code": "0000-0000-00"}],
    ],
    ids=["rxnorm-with-ndc", "ndc-with-local", "ndc-oid-11-digit", "rxnorm-oid-with-ndc"],
)
def test_a_medication_matches_on_any_coding(codings: list[dict[str, Any]]) -> None:
    [kinds] = _kinds(_medication_request("m1", *codings, text="as ordered"))
    assert OrderKind.OPIOID in kinds


def test_an_ndc_only_medication_in_a_contained_medication_matches() -> None:
    order = {
        "resourceType": "MedicationRequest",
        "id": "m2",
        "status": "draft",
        "intent": "order",
        "contained": [
            {"resourceType": "Medication", "id": "med", "code": {"coding": [_json_coding(PERCOCET_NDC)]}}
        ],
        "medicationReference": {"reference": "#med"},
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    [kinds] = _kinds(order)
    assert OrderKind.OPIOID in kinds


def test_an_order_with_snomed_and_cpt_matches_on_either() -> None:
    order = {
        "resourceType": "ServiceRequest",
        "id": "s1",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": OIDS[SNOMED], "code": _listed(MANIPULATION_SNOMED)},
                            {"system": "http://www.ama-assn.org/go/cpt", "code": "99999"}]},
        "subject": {"reference": f"Patient/{PATIENT}"},
    }
    [kinds] = _kinds(order)
    assert OrderKind.MANIPULATION in kinds


def test_unrelated_codings_do_not_match() -> None:
    [kinds] = _kinds(
        _medication_request("m3", {"system": LOCAL_MEDICATION_SYSTEM, "code": "12345"},
                            {"system": NDC, "code": "0000-0000-00"}, text="saline flush")
    )
    assert OrderKind.OPIOID not in kinds
