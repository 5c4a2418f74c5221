"""From resources and the hook context to a PatientRecord: references, other patients, invalid elements, quirks."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from service.errors import BadRequestError
from service.fhir.builder import build_record
from service.fhir.builder import normalise_reference
from service.fhir.builder import parse_context
from service.fhir.coding import ICD10CM
from service.fhir.coding import RXNORM
from service.fhir.coding import Coding
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ServiceRequestFacts
from tests.unit.fhir.conftest import PATIENT_ID
from tests.unit.fhir.conftest import condition
from tests.unit.fhir.conftest import patient
from tests.unit.fhir.conftest import procedure
from tests.unit.fhir.conftest import searchset

CONTEXT = parse_context({"patientId": PATIENT_ID})


def build(*sources: Any, context: dict[str, Any] | None = None) -> PatientRecord:
    return build_record(parse_context(context or {"patientId": PATIENT_ID}), sources)


# --- references and patients --------------------------------------------------------------------------


def test_transaction_bundle_with_urn_uuid_references() -> None:
    patient_uuid = "c20ccf5d-19ac-4dfe-bdc3-3d1d6344facc"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": f"urn:uuid:{patient_uuid}", "resource": patient(patient_uuid), "request": {"method": "POST"}},
            {"fullUrl": "urn:uuid:aaa", "resource": condition("aaa", subject=f"urn:uuid:{patient_uuid}")},
            # No id: the id comes from the urn:uuid fullUrl.
            {"fullUrl": "urn:uuid:bbb", "resource": {**procedure("x", subject=f"urn:uuid:{patient_uuid}"), "id": None}},
        ],
    }
    record = build(bundle, context={"patientId": patient_uuid})
    assert record.patient is not None and record.patient.ref == f"Patient/{patient_uuid}"
    assert [c.ref for c in record.conditions] == ["Condition/aaa"]
    assert [p.ref for p in record.procedures] == ["Procedure/bbb"]


def test_urn_uuid_fullurl_mapping_to_a_different_patient_id() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1111", "resource": patient("p1")},
            {"fullUrl": "urn:uuid:2222", "resource": patient("p2")},
            {"resource": condition("mine", subject="urn:uuid:1111")},
            {"resource": condition("theirs", subject="urn:uuid:2222")},
            {"resource": condition("unknown", subject="urn:uuid:3333")},
        ],
    }
    assert [c.ref for c in build(bundle).conditions] == ["Condition/mine"]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/p1", "Patient/p1"),
        ("Patient/p1/_history/3", "Patient/p1"),
        ("https://ehr.example.org/fhir/Patient/p1", "Patient/p1"),
        ("http://ehr.example.org/fhir/R4/Patient/p1/_history/2", "Patient/p1"),
        ("urn:uuid:abc", None),
        ("#contained", None),
        ("Patient?identifier=x|1", None),
        ("p1", None),
        ("", None),
    ],
)
def test_reference_forms(reference: str, expected: str | None) -> None:
    assert normalise_reference(reference, {}) == expected


def test_absolute_url_references_match_the_patient() -> None:
    record = build(searchset(condition("c1", subject="https://ehr.example.org/fhir/Patient/p1")))
    assert [c.ref for c in record.conditions] == ["Condition/c1"]


def test_other_patients_resources_are_ignored_not_counted() -> None:
    record = build(
        patient("someone-else"),
        searchset(condition("c1"), condition("c2", subject="Patient/someone-else"), condition("c3", subject="Group/g")),
    )
    assert record.patient is None
    assert [c.ref for c in record.conditions] == ["Condition/c1"]
    assert record.skipped == 0


def test_resource_without_subject_is_skipped_and_counted() -> None:
    record = build(
        searchset(condition("c1", subject="Patient/p1"), {**condition("c2"), "subject": {"display": "Jane"}})
    )
    assert [c.ref for c in record.conditions] == ["Condition/c1"]
    assert record.skipped == 1
    assert record.notes == ("skipped 1 Condition resource(s): subject is missing or not valid FHIR R4",)


def test_bare_patient_without_id_is_the_context_patient() -> None:
    record = build({"resourceType": "Patient", "birthDate": "1974-12-25", "gender": "male"})
    assert record.patient is not None and record.patient.birth_date == date(1974, 12, 25)


def test_unknown_resource_types_are_ignored() -> None:
    record = build(searchset({"resourceType": "Claim", "id": "x", "patient": {"reference": "Patient/p1"}}, {"no": 1}))
    assert record == PatientRecord()


def test_same_resource_under_several_keys_is_read_and_counted_once() -> None:
    bad = {**condition("bad"), "onsetDateTime": "2020-13-01"}
    bundle = searchset(condition("c1"), bad)
    record = build(bundle, bundle, bundle)
    assert [c.ref for c in record.conditions] == ["Condition/c1"]
    assert record.skipped == 1


def test_facts_are_sorted_by_reference() -> None:
    record = build(searchset(condition("c3"), condition("c1")), searchset(condition("c2")))
    assert [c.ref for c in record.conditions] == ["Condition/c1", "Condition/c2", "Condition/c3"]


def test_nested_bundles_are_read() -> None:
    batch = {"resourceType": "Bundle", "type": "batch-response", "entry": [{"resource": searchset(condition("c1"))}]}
    assert [c.ref for c in build(batch).conditions] == ["Condition/c1"]


# --- elements --------------------------------------------------------------------------------------------


def test_condition_elements_are_read_and_codes_normalised() -> None:
    record = build(
        searchset(
            condition(
                "c1",
                code="g44.86",
                verificationStatus={"coding": [{"code": "confirmed"}]},
                onsetDateTime="2025-03-01T09:30:00+02:00",
                abatementPeriod={"end": "2025-05"},
                recordedDate="2025",
            )
        )
    )
    (facts,) = record.conditions
    assert facts.codings == (Coding(ICD10CM, "G4486"),)
    assert (facts.clinical_status, facts.verification_status) == ("active", "confirmed")
    assert (facts.onset, facts.abatement, facts.recorded) == (date(2025, 3, 1), date(2025, 5, 1), date(2025, 1, 1))


def test_stu3_string_clinical_status_is_accepted() -> None:
    (facts,) = build(searchset(condition("c1", clinicalStatus="active"))).conditions
    assert facts.clinical_status == "active"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("onsetDateTime", "2020-13-01"),
        ("onsetDateTime", "2023-02-30"),
        ("onsetDateTime", "2020-01-01T10:00:00"),  # a time needs a time zone
        ("onsetDateTime", 20200101),
        ("recordedDate", "yesterday"),
        ("abatementPeriod", "2020"),
        ("abatementPeriod", {"start": "2020-02-30"}),
        ("code", {"coding": {"code": "G44.86"}}),
        ("code", {"coding": [{"code": 4486}]}),
        ("code", "G44.86"),
        ("verificationStatus", {"coding": [{"system": 5}]}),
        ("subject", "Patient/p1"),
    ],
)
def test_invalid_relied_on_element_is_skipped_and_counted(field: str, value: Any) -> None:
    record = build(searchset(condition("good"), {**condition("bad"), field: value}))
    assert [c.ref for c in record.conditions] == ["Condition/good"]
    assert record.skipped == 1
    assert record.notes and "Condition" in record.notes[0]


def test_invalid_patient_is_skipped_and_counted() -> None:
    record = build(patient(birthDate="1980-02-31"))
    assert record.patient is None and record.skipped == 1


def test_deceased_patient() -> None:
    assert build(patient(deceasedDateTime="2024-01-01")).patient.deceased  # type: ignore[union-attr]
    assert build(patient(deceasedBoolean=True)).patient.deceased  # type: ignore[union-attr]
    assert not build(patient(deceasedBoolean=False)).patient.deceased  # type: ignore[union-attr]


def test_unrelied_on_elements_may_be_invalid() -> None:
    record = build(searchset(condition("c1", category={"coding": "nonsense"}, note=[{"text": 5}], evidence=42)))
    assert len(record.conditions) == 1 and record.skipped == 0


def test_procedure_period_outcome_and_notes() -> None:
    resource = procedure(
        "p1",
        performedDateTime=None,
        performedPeriod={"start": "2025-02-10T08:00:00Z", "end": "2025-02-10T09:00:00Z"},
        bodySite={"coding": [{"system": "http://snomed.info/sct", "code": "123"}]},  # object, not array
        outcome={"text": "80% relief"},
        note=[{"text": "GON block"}],
    )
    (facts,) = build(searchset(resource)).procedures
    assert facts.performed == date(2025, 2, 10)
    assert facts.body_site == (Coding("http://snomed.info/sct", "123"),)
    assert facts.notes == ("80% relief", "GON block")


def test_observation_values() -> None:
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": "2025-05-01"},
        "valueQuantity": {"value": 12, "unit": "d/mo"},
    }
    (facts,) = build(searchset(observation)).observations
    assert (facts.effective, facts.value_quantity, facts.value_unit) == (date(2025, 5, 1), 12.0, "d/mo")
    bad = {**observation, "id": "o2", "valueQuantity": {"value": 12, "comparator": 5}}
    assert build(searchset(bad)).skipped == 1


def test_medication_from_contained_and_bundled_medication() -> None:
    medication = {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"system": RXNORM, "code": "855332"}]}}
    contained = {
        "resourceType": "MedicationRequest",
        "id": "r1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "contained": [medication],
        "medicationReference": {"reference": "#m1"},
    }
    referenced = {**contained, "id": "r2", "contained": None, "medicationReference": {"reference": "Medication/m1"}}
    record = build(searchset(contained, referenced, medication))
    assert [m.codings for m in record.medication_requests] == [(Coding(RXNORM, "855332"),)] * 2


# --- draft orders and selections ------------------------------------------------------------------------


def test_sandbox_draft_orders_quirks() -> None:
    draft_orders = {
        "resourceType": "Bundle",  # no `type`
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "request-123",
                    "status": "draft",  # no `intent`
                    "category": {"coding": [{"code": "community"}]},  # an object, not an array
                    "subject": {"reference": "Patient/p1"},
                    "authoredOn": "2026-11-25",
                    "medicationCodeableConcept": {
                        "coding": [{"system": RXNORM, "code": "435115", "display": "Niacin"}]
                    },
                }
            },
            {
                "resource": {
                    "resourceType": "ServiceRequest",
                    "id": "example-request-id",
                    "status": "draft",
                    "intent": "plan",
                    "code": {"coding": [{}]},
                    "reasonCode": [],
                }
            },
            {"resource": {"resourceType": "NutritionOrder", "id": "n1"}},
        ],
    }
    record = build(
        context={
            "patientId": PATIENT_ID,
            "draftOrders": draft_orders,
            "selections": ["ServiceRequest/example-request-id"],
        }
    )
    assert record.draft_orders == (
        MedicationRequestFacts(
            ref="MedicationRequest/request-123",
            codings=(Coding(RXNORM, "435115", "Niacin"),),
            text="Niacin",
            status="draft",
            intent=None,
            authored=date(2026, 11, 25),
        ),
        ServiceRequestFacts(ref="ServiceRequest/example-request-id", codings=(), status="draft", intent="plan"),
    )
    assert record.selections == frozenset({"ServiceRequest/example-request-id"})


def test_non_ascii_and_long_ids_are_kept() -> None:
    long_id = "x" * 80
    orders = searchset(
        {
            "resourceType": "MedicationRequest",
            "id": "draft\u2011rx\u20111",
            "status": "draft",
            "subject": {"reference": "Patient/p1"},
        },
        {"resourceType": "ServiceRequest", "id": long_id, "status": "draft", "intent": "order"},
    )
    record = build(context={"patientId": PATIENT_ID, "draftOrders": orders})
    assert [order.ref for order in record.draft_orders] == [
        "MedicationRequest/draft\u2011rx\u20111",
        f"ServiceRequest/{long_id}",
    ]


def test_dstu2_and_stu3_orders_are_mapped_and_other_patients_drafts_ignored() -> None:
    orders = searchset(
        {
            "resourceType": "MedicationOrder",
            "id": "mo",
            "status": "draft",
            "patient": {"reference": "Patient/p1"},
            "dateWritten": "2016-01-02",
            "medicationCodeableConcept": {"text": "Amoxicillin"},
        },
        {
            "resourceType": "ProcedureRequest",
            "id": "pr",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "MRI"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "theirs",
            "status": "draft",
            "subject": {"reference": "Patient/p2"},
        },
        {"resourceType": "ServiceRequest", "status": "draft"},  # no id: skipped and counted
    )
    record = build(context={"patientId": PATIENT_ID, "draftOrders": orders})
    assert [order.ref for order in record.draft_orders] == ["MedicationOrder/mo", "ProcedureRequest/pr"]
    assert record.draft_orders[0].authored == date(2016, 1, 2)  # type: ignore[union-attr]
    assert record.draft_orders[1].text == "MRI"
    assert record.skipped == 1


def test_a_single_resource_as_draft_orders_is_accepted() -> None:
    order = {"resourceType": "ServiceRequest", "id": "s1", "status": "draft", "intent": "order"}
    assert [o.ref for o in build(context={"patientId": PATIENT_ID, "draftOrders": order}).draft_orders] == [
        "ServiceRequest/s1"
    ]


def test_invalid_draft_order_is_skipped_and_counted() -> None:
    orders = searchset(
        {"resourceType": "ServiceRequest", "id": "s1", "status": "draft", "intent": "order", "authoredOn": "2020-02-30"}
    )
    record = build(context={"patientId": PATIENT_ID, "draftOrders": orders})
    assert record.draft_orders == () and record.skipped == 1


def test_context_errors() -> None:
    with pytest.raises(BadRequestError):
        parse_context({"patientId": "p1", "draftOrders": "Bundle"})


# --- never raises ---------------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["Patient/p1", "urn:uuid:p1", "2020-01-01", "Condition", "Bundle", "Observation", "p1"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceType",
                    "id",
                    "entry",
                    "resource",
                    "fullUrl",
                    "subject",
                    "reference",
                    "code",
                    "coding",
                    "system",
                    "onsetDateTime",
                    "valueQuantity",
                    "value",
                    "performedPeriod",
                    "start",
                    "status",
                    "medicationReference",
                    "contained",
                    "clinicalStatus",
                    "birthDate",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources=st.lists(_JSON, max_size=3), draft_orders=_JSON)
def test_build_record_never_raises_for_any_json(sources: list[Any], draft_orders: Any) -> None:
    try:
        context = parse_context({"patientId": "p1", "draftOrders": draft_orders})
    except BadRequestError:
        context = CONTEXT
    assert isinstance(build_record(context, sources), PatientRecord)


# --- PT region and PT visits (revision-2 C2, C3) -------------------------------------------------------


def test_encounters_are_read_with_types_reasons_and_diagnoses() -> None:
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "91251008"}], "text": "PT visit"}],
        "serviceType": {"text": "Physiotherapy"},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "period": {"start": "2025-04-02T09:00:00Z", "end": "2025-04-02T10:00:00Z"},
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M54.2"}], "text": "Neck"}],
        "reasonReference": [{"reference": "Condition/c1"}],
        "diagnosis": [{"condition": {"reference": "Condition/c2"}}],
        "basedOn": [{"reference": "ServiceRequest/sr1"}],
    }
    (read,) = build(searchset(encounter)).encounters
    assert read.ref == "Encounter/e1" and read.status == "finished" and read.start == date(2025, 4, 2)
    assert [c.code for c in read.types] == ["91251008"] and read.type_texts == ("PT visit", "Physiotherapy")
    assert [c.code for c in read.reason_codings] == ["M542"] and read.reason_texts == ("Neck",)
    assert read.reason_refs == ("Condition/c1", "Condition/c2") and read.based_on == ("ServiceRequest/sr1",)


def test_other_patients_encounters_are_ignored() -> None:
    encounter = {"resourceType": "Encounter", "id": "e2", "status": "finished", "subject": {"reference": "Patient/x"}}
    assert build(searchset(encounter)).encounters == ()


def test_an_encounter_with_an_invalid_type_is_skipped_and_counted() -> None:
    encounter = {"resourceType": "Encounter", "id": "e3", "subject": {"reference": f"Patient/{PATIENT_ID}"}, "type": 7}
    record = build(searchset(encounter))
    assert record.encounters == () and record.skipped == 1


def test_procedure_region_elements_are_read() -> None:
    resource = procedure(
        "p9",
        bodySite=[{"coding": [{"system": "http://snomed.info/sct", "code": "45048000"}], "text": "Neck"}],
        reasonCode=[{"text": "cervicogenic headache"}],
        reasonReference=[{"reference": "Condition/c1"}],
        basedOn=[{"reference": "ServiceRequest/sr1"}],
        encounter={"reference": "Encounter/e1"},
    )
    (read,) = build(searchset(resource)).procedures
    assert read.body_site_texts == ("Neck",) and read.reason_texts == ("cervicogenic headache",)
    assert (read.reason_refs, read.based_on, read.encounter) == (
        ("Condition/c1",),
        ("ServiceRequest/sr1",),
        "Encounter/e1",
    )


def test_encounter_filter_leaves_out_visits_that_are_neither_pt_nor_a_procedures() -> None:
    def encounter(resource_id: str, text: str) -> dict[str, Any]:
        return {"resourceType": "Encounter", "id": resource_id, "status": "finished",
                "type": [{"text": text}], "subject": {"reference": f"Patient/{PATIENT_ID}"}}

    sources = searchset(
        encounter("pt", "Physical therapy"),
        encounter("checkup", "Check up"),
        encounter("visit-of-a-procedure", "Office visit"),
        procedure("p1", encounter={"reference": "Encounter/visit-of-a-procedure"}),
    )
    asked: list[tuple[str, ...]] = []

    def only_pt(types: tuple[Coding, ...], texts: tuple[str, ...]) -> bool:
        asked.append(texts)
        return "Physical therapy" in texts

    record = build_record(CONTEXT, [sources], encounter_filter=only_pt)
    assert [e.ref for e in record.encounters] == ["Encounter/pt", "Encounter/visit-of-a-procedure"]
    assert sorted(asked) == [("Check up",), ("Office visit",), ("Physical therapy",)]
    assert record.skipped == 0
    assert [e.ref for e in build(sources).encounters] == [
        "Encounter/checkup", "Encounter/pt", "Encounter/visit-of-a-procedure"
    ]
