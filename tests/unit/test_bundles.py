"""Bring your own FHIR data: Bundles and NDJSON folders become the hook requests an EHR sends, and get the cards.

The fixtures are the oracle: each fixture's data, written as the transaction Bundle an export would hold (urn:uuid
references), must get the cards the fixture expects. The Synthea patients of the real-world data must evaluate
from their raw bundles for every hook.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.bundles import BUNDLE_USER_ID
from service.bundles import bundle_resources
from service.bundles import by_patient
from service.bundles import draft_from_code
from service.bundles import hook_request
from service.bundles import read_patients
from service.bundles import run_template
from service.commands.common import card_library
from service.commands.common import dry_run_settings
from service.dry_run import evaluate_patient
from service.dry_run import service_for
from service.errors import BadRequestError
from service.fhir.prefetch import PREFETCH_TEMPLATES
from service.render import CardLibrary
from service.scenarios import Scenario
from service.scenarios import check_response
from service.scenarios import iter_scenarios
from service.services import SERVICES
from service.services import get_service
from tests.bundle_conversion import fixture_resources
from tests.bundle_conversion import transaction_bundle

REPO_ROOT = Path(__file__).resolve().parents[2]
SYNTHEA_DIR = REPO_ROOT / "tests" / "data" / "realworld" / "synthea-r4"
SYNTHEA_FILES = sorted(SYNTHEA_DIR.glob("*.json"))
HOOKS = [service.hook.value for service in SERVICES]


def _selects_every_draft(scenario: Scenario) -> bool:
    """A Bundle cannot say which drafts are selected: every draft is. Fixtures selecting a subset are left out."""
    context = scenario.request["context"]
    if "selections" not in context:
        return True
    drafts = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in context["draftOrders"]["entry"]}
    return set(context["selections"]) == drafts


ROUND_TRIP = [
    s for s in iter_scenarios(REPO_ROOT / "fhir_fixtures")
    if s.path.parent.name != "_protocol" and not s.server_resources and s.expect.status == 200
    and _selects_every_draft(s)
]


@pytest.fixture(scope="module")
def cards() -> CardLibrary:
    return card_library()


def _evaluate(resources: list[dict[str, Any]], scenario: Scenario, cards: CardLibrary) -> list[Any]:
    patients = by_patient(resources)
    assert len(patients) == 1
    result = evaluate_patient(patients[0], get_service(scenario.service), cards=cards, settings=dry_run_settings(),
                              today=scenario.reference_date)
    assert result.error is None, result.error
    return check_response(scenario, 200, result.response)


def test_enough_fixtures_make_the_round_trip() -> None:
    assert len(ROUND_TRIP) >= 100
    assert {s.service for s in ROUND_TRIP} == {service.id for service in SERVICES}


@pytest.mark.parametrize("scenario", ROUND_TRIP, ids=lambda s: f"{s.path.parent.name}/{s.path.stem}")
def test_fixture_as_a_transaction_bundle_gets_the_expected_cards(scenario: Scenario, cards: CardLibrary) -> None:
    bundle = transaction_bundle(fixture_resources(scenario))
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])
    assert _evaluate(bundle_resources(bundle), scenario, cards) == []


@pytest.mark.parametrize("bundle_type", ["batch", "collection", "searchset"])
def test_every_bundle_type_is_read(bundle_type: str, cards: CardLibrary) -> None:
    for scenario in ROUND_TRIP[::10]:
        bundle = transaction_bundle(fixture_resources(scenario), bundle_type)
        assert _evaluate(bundle_resources(bundle), scenario, cards) == [], scenario.path


def test_entries_without_ids_take_them_from_their_urn_uuid_full_urls(cards: CardLibrary) -> None:
    for scenario in ROUND_TRIP[::7]:
        if scenario.request["hook"] in ("order-select", "order-sign"):
            continue  # expected delete actions name the fixture's order ids
        bundle = transaction_bundle(fixture_resources(scenario), keep_ids=False)
        resources = bundle_resources(bundle)
        assert all(r["id"] == e["fullUrl"].removeprefix("urn:uuid:") for r, e in zip(resources, bundle["entry"],
                                                                                   strict=True))
        assert _evaluate(resources, scenario, cards) == [], scenario.path


def test_urn_uuid_references_become_type_and_id() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:7b0d4a4e-0f7b-4a43-9b43-2b1f0d2a6f11",
         "resource": {"resourceType": "Patient", "id": "7b0d4a4e-0f7b-4a43-9b43-2b1f0d2a6f11"}},
        {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Condition", "id": "c1", "subject": {
            "reference": "urn:uuid:7b0d4a4e-0f7b-4a43-9b43-2b1f0d2a6f11"}, "note": [{"text": "urn:uuid:c1"}]}},
        {"fullUrl": "urn:uuid:e1", "resource": {"resourceType": "Encounter", "id": "e1", "subject": {
            "reference": "urn:uuid:elsewhere"}}},
    ]}
    patient, condition, encounter = bundle_resources(bundle)
    assert condition["subject"] == {"reference": "Patient/7b0d4a4e-0f7b-4a43-9b43-2b1f0d2a6f11"}
    assert condition["note"] == [{"text": "urn:uuid:c1"}]  # only references are rewritten
    assert encounter["subject"] == {"reference": "urn:uuid:elsewhere"}  # not in the bundle: left as written
    (data,) = by_patient([patient, condition, encounter])
    assert data.resources == [condition]


@pytest.mark.parametrize("bundle_type", ["document", "message", "history", None])
def test_other_bundle_types_are_refused_with_a_clear_message(bundle_type: str | None) -> None:
    with pytest.raises(BadRequestError, match="transaction, batch, collection or searchset"):
        bundle_resources({"resourceType": "Bundle", "type": bundle_type, "entry": []})


@pytest.mark.parametrize("body", [[], "x", {"entry": []}, {"resourceType": "Bundle", "type": "collection",
                                                            "entry": [{"fullUrl": "urn:uuid:1"}]}])
def test_malformed_data_is_a_bad_request(body: Any) -> None:
    with pytest.raises(BadRequestError):
        bundle_resources(body)


def test_several_patients_give_one_result_each(tmp_path: Path, cards: CardLibrary) -> None:
    first, second = ROUND_TRIP[0], next(s for s in ROUND_TRIP if s.service == ROUND_TRIP[0].service
                                        and s.reference_date == ROUND_TRIP[0].reference_date and s.expect.cards
                                        and s.expect.cards != ROUND_TRIP[0].expect.cards)
    entries = [*transaction_bundle(fixture_resources(first))["entry"],
               *transaction_bundle(fixture_resources(second))["entry"]]
    path = tmp_path / "two.json"
    path.write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    patients = read_patients(path)
    assert len(patients) == 2
    for data, scenario in zip(patients, (first, second), strict=True):
        result = evaluate_patient(data, get_service(scenario.service), cards=cards, settings=dry_run_settings(),
                                  today=scenario.reference_date)
        assert check_response(scenario, 200, result.response) == []


def test_an_ndjson_folder_is_read_like_a_bulk_data_export(tmp_path: Path, cards: CardLibrary) -> None:
    scenario = next(s for s in ROUND_TRIP if s.request["hook"] == "patient-view" and len(s.expect.cards) >= 2)
    by_type: dict[str, list[bytes]] = {}
    for resource in fixture_resources(scenario):
        by_type.setdefault(resource["resourceType"], []).append(orjson.dumps(resource))
    for resource_type, lines in by_type.items():
        (tmp_path / f"{resource_type}.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    (data,) = read_patients(tmp_path)
    result = evaluate_patient(data, get_service(scenario.service), cards=cards, settings=dry_run_settings(),
                              today=scenario.reference_date)
    assert check_response(scenario, 200, result.response) == []


def test_the_request_carries_every_template_key_and_the_context_an_ehr_sends() -> None:
    scenario = next(s for s in ROUND_TRIP if s.request["hook"] == "order-select")
    (data,) = by_patient(bundle_resources(transaction_bundle(fixture_resources(scenario))))
    drafted = draft_from_code("http://snomed.info/sct", "91251008")
    request = hook_request(data, get_service("cgh-order-select"), drafts=[drafted])
    assert set(request["prefetch"]) == set(PREFETCH_TEMPLATES)
    assert request["context"]["userId"] == BUNDLE_USER_ID
    assert request["context"]["selections"] == ["ServiceRequest/draft-1"]
    (entry,) = request["context"]["draftOrders"]["entry"]
    assert entry["resource"]["subject"] == {"reference": f"Patient/{data.patient_id}"}
    assert entry["resource"]["code"]["coding"] == [{"system": "http://snomed.info/sct", "code": "91251008"}]
    for key, value in request["prefetch"].items():
        if key != "patient":
            assert value["type"] == "searchset" and value["total"] == len(value["entry"])


def test_encounter_start_names_the_latest_encounter() -> None:
    patient = {"resourceType": "Patient", "id": "p"}
    encounters = [{"resourceType": "Encounter", "id": name, "subject": {"reference": "Patient/p"},
                   "period": {"start": start}} for name, start in
                  [("old", "2020-01-01"), ("new", "2024-03-01T10:00:00Z"), ("mid", "2023-01-01")]]
    (data,) = by_patient([patient, *encounters])
    request = hook_request(data, service_for("encounter-start"))
    assert request["context"]["encounterId"] == "new"
    (alone,) = by_patient([patient])
    with pytest.raises(BadRequestError, match="encounter-start needs"):
        hook_request(alone, service_for("encounter-start"))


def test_templates_filter_by_intent_status_and_code_and_refuse_unknown_parameters() -> None:
    patient = {"resourceType": "Patient", "id": "p"}
    orders = [{"resourceType": "MedicationRequest", "id": intent, "intent": intent, "status": "active",
               "subject": {"reference": "Patient/p"}} for intent in ("order", "plan", "proposal")]
    found = run_template(PREFETCH_TEMPLATES["medicationrequests"], {"patientId": "p"}, patient, orders)
    assert [e["resource"]["id"] for e in found["entry"]] == ["order", "plan"]
    observations = [
        {"resourceType": "Observation", "id": code, "subject": {"reference": "Patient/p"},
         "code": {"coding": [{"system": "http://loinc.org", "code": code}]}}
        for code in ("82810-3", "8867-4")
    ]
    found = run_template(PREFETCH_TEMPLATES["observations"], {"patientId": "p"}, patient, observations)
    assert [e["resource"]["id"] for e in found["entry"]] == ["82810-3"]
    with pytest.raises(ValueError, match="'category'"):
        run_template("Condition?patient={{context.patientId}}&category=x", {"patientId": "p"}, patient, [])


def test_every_synthea_file_is_present() -> None:
    assert len(SYNTHEA_FILES) == 14


@pytest.mark.parametrize("path", SYNTHEA_FILES, ids=lambda p: p.name.split("_")[0])
def test_every_synthea_patient_evaluates_from_its_raw_bundle_for_each_hook(path: Path, cards: CardLibrary) -> None:
    (data,) = read_patients(path)
    assert data.resources, "the patient's resources were linked through their urn:uuid references"
    for hook in HOOKS:
        result = evaluate_patient(data, service_for(hook), cards=cards, settings=dry_run_settings(),
                                  today=date(2021, 6, 1))
        assert result.error is None, (hook, result.error)
        assert result.response is not None and isinstance(result.response["cards"], list)
        prefetch = result.request["prefetch"] if result.request else {}
        assert prefetch["patient"]["id"] == data.patient_id
        assert prefetch["conditions"]["total"] == sum(r["resourceType"] == "Condition" for r in data.resources)
