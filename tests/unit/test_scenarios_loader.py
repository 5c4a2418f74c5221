"""The fixture scenarios and their loader: every file loads, is valid R4, and says what it means to say.

Also covers ``service.scenarios`` itself: date rolling (precision, month/year boundaries, non-dates left
alone) and ``check_response`` catching each kind of mismatch.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from service.pathway.advice import RecommendationId
from service.scenarios import Expectation
from service.scenarios import ExpectedCard
from service.scenarios import Scenario
from service.scenarios import check_response
from service.scenarios import iter_scenarios
from service.scenarios import load_scenario
from service.scenarios import roll_date_string
from service.scenarios import roll_dates
from tests.conftest import FIXTURES_DIR

FIXTURE_PATHS = sorted(FIXTURES_DIR.rglob("*.json"))
CATALOGUE = {r.value for r in RecommendationId}
SERVICES = {
    "cgh-patient-view": "patient-view",
    "cgh-encounter-start": "encounter-start",
    "cgh-order-select": "order-select",
    "cgh-order-sign": "order-sign",
}
PREFETCH_KEYS = {
    "patient", "conditions", "procedures", "servicerequests", "medicationrequests", "observations", "encounters",
}
PROTOCOL_DIR = "_protocol"
PLACEHOLDER_SERVER = "http://placeholder.invalid/fhir"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _id(path: Path) -> str:
    return str(path.relative_to(FIXTURES_DIR))


def _all() -> list[Scenario]:
    return [load_scenario(p) for p in FIXTURE_PATHS]


def _is_protocol(scenario: Scenario) -> bool:
    return scenario.path.parent.name == PROTOCOL_DIR


def _resources(scenario: Scenario) -> Iterator[dict[str, Any]]:
    """Every top-level FHIR resource of the fixture: prefetch values, draft orders, server resources."""
    for value in (scenario.request.get("prefetch") or {}).values():
        if value is not None:
            yield value
    draft_orders = scenario.request["context"].get("draftOrders")
    if draft_orders is not None:
        yield draft_orders
    yield from scenario.server_resources


def _flatten(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield resource
    if resource.get("resourceType") == "Bundle":
        for entry in resource.get("entry", []):
            yield from _flatten(entry["resource"])


def _patient_id(prefetch: dict[str, Any], patient_id: str | None) -> str:
    """The patient id the fixture's resources must point at: the context's, or the prefetched Patient's."""
    return patient_id or prefetch["patient"]["id"]


# --------------------------------------------------------------------------------------------- the fixtures


def test_there_are_fixtures() -> None:
    assert len(FIXTURE_PATHS) >= 50
    assert len(list(iter_scenarios(FIXTURES_DIR))) == len(FIXTURE_PATHS)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=_id)
def test_fixture_loads_and_is_consistent(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.reference_date == date(2025, 6, 1)
    assert scenario.title and scenario.scenario
    folder = path.parent.name
    assert folder == PROTOCOL_DIR or folder in CATALOGUE, f"folder {folder} is not a recommendation id"
    if _is_protocol(scenario):
        return
    assert SERVICES[scenario.service] == scenario.request["hook"]
    assert scenario.expect.status == 200
    assert UUID4.match(scenario.request["hookInstance"])
    context = scenario.request["context"]
    assert context["userId"] == "Practitioner/example"
    assert context["patientId"]
    if scenario.service == "cgh-encounter-start":
        assert context["encounterId"]
    if scenario.request["hook"] in ("order-select", "order-sign"):
        assert context["draftOrders"]["resourceType"] == "Bundle"


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=_id)
def test_expected_and_absent_ids_are_in_the_catalogue(path: Path) -> None:
    expect = load_scenario(path).expect
    for rec in [c.recommendation for c in expect.cards] + list(expect.absent):
        assert rec in CATALOGUE, f"unknown recommendation id {rec}"


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=_id)
def test_prefetch_shape(path: Path) -> None:
    scenario = load_scenario(path)
    prefetch = scenario.request.get("prefetch")
    if prefetch is None:
        return
    assert set(prefetch) <= PREFETCH_KEYS
    patient_id = scenario.request["context"].get("patientId")
    for key, value in prefetch.items():
        if value is None or value["resourceType"] == "OperationOutcome":
            continue
        if key == "patient":
            assert value["resourceType"] == "Patient"
            assert patient_id is None or value["id"] == patient_id
            continue
        assert value["resourceType"] == "Bundle" and value["type"] == "searchset"
        entries = value.get("entry", [])
        assert value["total"] == len(entries)
        for entry in entries:
            resource = entry["resource"]
            assert entry["search"] == {"mode": "match"}
            assert entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}")
            assert resource["subject"]["reference"] == f"Patient/{_patient_id(prefetch, patient_id)}"


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=_id)
def test_order_select_selections_are_draft_orders(path: Path) -> None:
    context = load_scenario(path).request["context"]
    if "selections" not in context:
        return
    entries = context["draftOrders"]["entry"]
    drafts = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries}
    assert context["selections"], "order-select needs at least one selection"
    assert set(context["selections"]) <= drafts


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=_id)
def test_resources_are_valid_r4(path: Path) -> None:
    scenario = load_scenario(path)
    for resource in _resources(scenario):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=_id)
def test_draft_orders_are_drafts(path: Path) -> None:
    draft_orders = load_scenario(path).request["context"].get("draftOrders")
    for entry in (draft_orders or {}).get("entry", []):
        assert entry["resource"]["status"] == "draft"
        assert entry["resource"]["intent"] == "order"


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=_id)
def test_every_resource_belongs_to_the_fixture_patient(path: Path) -> None:
    scenario = load_scenario(path)
    resources = [r for top in _resources(scenario) for r in _flatten(top)]
    patients = {r["id"] for r in resources if r["resourceType"] == "Patient"}
    assert len(patients) <= 1
    patient_id = scenario.request["context"].get("patientId") or next(iter(patients), None)
    for resource in resources:
        if "subject" in resource:
            assert resource["subject"] == {"reference": f"Patient/{patient_id}"}


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=_id)
def test_fhir_fallback_fixtures_name_a_placeholder_server(path: Path) -> None:
    scenario = load_scenario(path)
    if scenario.server_resources:
        assert scenario.request["fhirServer"] == PLACEHOLDER_SERVER
        keys = set(scenario.request.get("prefetch") or {})
        assert keys < PREFETCH_KEYS, "a fallback fixture must leave some prefetch key out"
    elif not _is_protocol(scenario):
        assert "fhirServer" not in scenario.request


def test_hook_instances_are_unique() -> None:
    instances = [s.request["hookInstance"] for s in _all() if "hookInstance" in s.request]
    assert len(instances) == len(set(instances))


def test_every_recommendation_fires_somewhere_and_is_forbidden_somewhere() -> None:
    fired = {c.recommendation for s in _all() for c in s.expect.cards}
    forbidden = {rec for s in _all() for rec in s.expect.absent}
    assert CATALOGUE - fired == set()
    assert CATALOGUE - forbidden == set()


def test_every_reference_scenario_is_covered() -> None:
    covered = {s.scenario for s in _all()}
    assert {f"S{n:02d}" for n in range(1, 22)} <= covered


def test_protocol_fixtures_cover_the_edge_cases() -> None:
    protocol = {s.path.stem: s.expect for s in _all() if _is_protocol(s)}
    assert protocol["prefetch-key-missing"].status == 412
    assert protocol["prefetch-key-missing"].error == "fhir-data-unavailable"
    assert protocol["prefetch-operation-outcome"].status == 412
    assert protocol["prefetch-null-values"].status == 200
    assert protocol["unknown-service"].status == 404
    assert protocol["unknown-service"].error == "unknown-service"
    for name in ("missing-hook-instance", "context-missing-patient-id",
                 "encounter-start-missing-encounter-id", "fhir-authorization-without-fhir-server"):
        assert protocol[name].status == 400 and protocol[name].error == "bad-request"
    assert protocol["wrong-hook-for-service"].status == 400
    assert protocol["wrong-hook-for-service"].error == "wrong-hook"  # the documented, more specific code


def test_unknown_service_fixture_targets_no_real_service() -> None:
    scenario = load_scenario(FIXTURES_DIR / PROTOCOL_DIR / "unknown-service.json")
    assert scenario.service not in SERVICES


# ------------------------------------------------------------------------------------------ malformed files


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "fixture.json"
    path.write_bytes(orjson.dumps(doc))
    return path


GOOD: dict[str, Any] = {
    "title": "t",
    "scenario": "S01",
    "referenceDate": "2025-06-01",
    "service": "cgh-patient-view",
    "request": {"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {"patientId": "p"}},
    "expect": {"cards": [{"recommendation": "pt-first-line", "indicator": "info"}], "absent": ["red-flags"]},
}


def _broken(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    change(doc)
    return doc


def test_good_minimal_fixture_loads(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, GOOD))
    expected = Expectation(cards=(ExpectedCard("pt-first-line", "info"),), absent=("red-flags",))
    assert scenario.expect == expected
    assert scenario.server_resources == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("title"), "missing required field 'title'"),
        (lambda d: d.update(referenceDate="01/06/2025"), "referenceDate"),
        (lambda d: d.update(request=[]), "'request' must be an object"),
        (lambda d: d["request"].pop("context"), "request.context"),
        (lambda d: d["expect"]["cards"][0].update(indicator="urgent"), "indicator"),
        (lambda d: d["expect"]["cards"][0].pop("recommendation"), "expect.cards[0].recommendation"),
        (lambda d: d["expect"].update(absent=["pt-first-line"]), "both expected and absent"),
        (lambda d: d["expect"].update(status="200"), "expect.status"),
        (lambda d: d["expect"]["cards"][0].update(suggestionCodes=["91251008"]), "system|code"),
        (lambda d: d.update(serverResources=[{"id": "x"}]), "serverResources"),
        (lambda d: d.update(title=7), "field 'title' must be a string, not a number"),
        (lambda d: d["request"].update(context=None), "field 'request.context' must be an object, not null"),
        (lambda d: d.update(expect=None), "field 'expect' must be an object, not null"),
        (lambda d: d["expect"].update(cards={}), "field 'expect.cards' must be an array"),
        (lambda d: d["expect"].update(cards=["pt-first-line"]), "field 'expect.cards[0]' must be an object"),
        (lambda d: d["expect"].update(exact="yes"), "field 'expect.exact' must be true or false, not a string"),
        (lambda d: d["expect"].update(status=700), "field 'expect.status' must be an HTTP status code, not 700"),
        (lambda d: d["expect"].update(error=404), "field 'expect.error' must be a string (the error code slug)"),
        (lambda d: d["expect"].update(absent=["red-flags", ""]), "field 'expect.absent[1]' must not be empty"),
        (
            lambda d: d["expect"]["cards"][0].update(deletes="ServiceRequest/x"),
            "field 'expect.cards[0].deletes' must be an array of non-empty strings",
        ),
        (
            lambda d: d["expect"]["cards"][0].update(suggestionCodes=["http://snomed.info/sct|1", "1"]),
            "field 'expect.cards[0].suggestionCodes[1]' must be written 'system|code', not '1'",
        ),
        (
            lambda d: d.update(serverResources=[{"resourceType": "Procedure"}, {"id": "x"}]),
            "field 'serverResources[1]' must be a FHIR resource (an object with a resourceType)",
        ),
    ],
)
def test_malformed_fixture_raises_a_clear_value_error(tmp_path: Path, change: Any, message: str) -> None:
    path = _write(tmp_path, _broken(change))
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_every_problem_of_a_fixture_is_named_at_once(tmp_path: Path) -> None:
    def break_three(doc: dict[str, Any]) -> None:
        del doc["title"]
        doc["service"] = ["cgh-patient-view"]
        doc["expect"]["cards"][0]["indicator"] = "urgent"

    path = _write(tmp_path, _broken(break_three))
    with pytest.raises(ValueError) as info:
        load_scenario(path)
    assert str(info.value) == (
        f"{path}: missing required field 'title'; field 'service' must be a string, not an array; "
        "field 'expect.cards[0].indicator' must be one of critical, info, warning, not 'urgent'"
    )


def test_unknown_keys_are_ignored_as_before(tmp_path: Path) -> None:
    """``review`` (``cgh-cds fixture new``) and other notes for people do not change the scenario."""

    def annotate(doc: dict[str, Any]) -> None:
        doc["review"] = "snapshot: check every card"
        doc["expect"]["note"] = "x"
        doc["expect"]["cards"][0]["why"] = "y"

    assert load_scenario(_write(tmp_path, _broken(annotate))).expect == load_scenario(_write(tmp_path, GOOD)).expect


def test_invalid_json_and_non_object_raise_value_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_scenario(path)
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        load_scenario(path)


def test_iter_scenarios_skips_readme(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# fixtures\n", encoding="utf-8")
    (tmp_path / "pt-first-line").mkdir()
    _write(tmp_path / "pt-first-line", GOOD)
    assert [s.path.name for s in iter_scenarios(tmp_path)] == ["fixture.json"]


# --------------------------------------------------------------------------------------------- date rolling


@pytest.mark.parametrize(
    ("value", "delta", "expected"),
    [
        ("2025-03-01", 10, "2025-03-11"),
        ("2025-01-31", 1, "2025-02-01"),  # month boundary
        ("2024-12-31", 1, "2025-01-01"),  # year boundary
        ("2024-02-28", 1, "2024-02-29"),  # leap day
        ("2025-03-01", -1, "2025-02-28"),  # backwards over a non-leap February
        ("2025-06-01", 365, "2026-06-01"),
        ("2025-04-20T09:30:00-05:00", 3, "2025-04-23T09:30:00-05:00"),  # dateTime keeps time and zone
        ("2025-12-31T23:59:59Z", 1, "2026-01-01T23:59:59Z"),
        ("2025-05-01T12:00:00.377+00:00", -31, "2025-03-31T12:00:00.377+00:00"),  # instant
        ("2025-01", 10, "2025-01"),  # month precision: a few days do not move it
        ("2025-01", 20, "2025-02"),
        ("2024-12", 20, "2025-01"),
        ("2025", 30, "2025"),
        ("2025", 200, "2026"),
        ("2025", -200, "2024"),
        ("2025-02-30", 1, "2025-02-30"),  # not a date: unchanged
        ("next week", 5, "next week"),
    ],
)
def test_roll_date_string(value: str, delta: int, expected: str) -> None:
    assert roll_date_string(value, delta) == expected


def test_roll_dates_moves_only_date_elements() -> None:
    doc = {
        "resourceType": "Condition",
        "id": "2025-06-01",
        "identifier": [{"system": "urn:x", "value": "2024"}],
        "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7804"}],
                 "text": "since 2025-03-01"},
        "onsetDateTime": "2025-03-01",
        "recordedDate": "2025-03-04T15:20:00-05:00",
        "abatementString": "2025-04-01",
        "note": [{"text": "2025-05-01", "time": "2025-05-02T08:00:00Z"}],
        "performedPeriod": {"start": "2025-04-20T14:00:00-05:00", "end": "2025-04-20T14:45:00-05:00"},
        "valueQuantity": {"value": 2025, "code": "2025"},
        "birthDate": "1987-02",
        "timing": {"event": ["2025-05-01", "2025-05-08"], "repeat": {"count": 2025}},
        "_birthDate": {"extension": [{"url": "urn:x", "valueDateTime": "1987-02-14"}]},
    }
    original = copy.deepcopy(doc)
    rolled = roll_dates(doc, 31)
    assert doc == original, "roll_dates must not mutate its input"
    assert rolled["id"] == "2025-06-01"
    assert rolled["identifier"][0]["value"] == "2024"
    assert rolled["code"] == original["code"]
    assert rolled["onsetDateTime"] == "2025-04-01"
    assert rolled["recordedDate"] == "2025-04-04T15:20:00-05:00"
    assert rolled["abatementString"] == "2025-04-01"
    assert rolled["note"][0]["text"] == "2025-05-01"
    assert rolled["performedPeriod"] == {
        "start": "2025-05-21T14:00:00-05:00", "end": "2025-05-21T14:45:00-05:00",
    }
    assert rolled["valueQuantity"] == {"value": 2025, "code": "2025"}
    assert rolled["birthDate"] == "1987-03"
    assert rolled["timing"] == {"event": ["2025-06-01", "2025-06-08"], "repeat": {"count": 2025}}
    assert rolled["_birthDate"]["extension"][0]["valueDateTime"] == "1987-03-17"
    assert rolled["note"][0]["time"] == "2025-06-02T08:00:00Z"  # Annotation.time is a dateTime


def test_roll_dates_zero_delta_is_a_deep_copy() -> None:
    doc = {"a": [{"birthDate": "2000-01-01"}]}
    rolled = roll_dates(doc, 0)
    assert rolled == doc and rolled is not doc and rolled["a"][0] is not doc["a"][0]


def test_scenario_rolled_to_keeps_intervals() -> None:
    scenario = load_scenario(FIXTURES_DIR / "pt-trial-in-progress"
                             / "s02-pt-in-progress-6-weeks-patient-view.json")
    today = date(2026, 1, 15)
    rolled = scenario.rolled_to(today)
    delta = (today - scenario.reference_date).days
    assert rolled.reference_date == today
    assert scenario.request["prefetch"]["patient"]["birthDate"] == "1980-01-09"  # original untouched
    assert rolled.request["prefetch"]["patient"]["birthDate"] == roll_date_string("1980-01-09", delta)
    procedures = rolled.request["prefetch"]["procedures"]["entry"]
    performed = [p["resource"].get("performedDateTime") or p["resource"]["performedPeriod"]["start"]
                 for p in procedures]
    starts = sorted(date.fromisoformat(value[:10]) for value in performed)
    assert (today - starts[0]).days == 42  # six weeks of PT, as on the reference date
    assert rolled.request["hookInstance"] == scenario.request["hookInstance"]
    assert rolled.request["context"]["patientId"] == scenario.request["context"]["patientId"]


def _age(birth: str, on: date) -> int:
    born = date.fromisoformat(birth)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@pytest.mark.parametrize("today", [date(2026, 2, 28), date(2027, 3, 1), date(2028, 2, 29), date(2031, 12, 31)])
def test_rolling_keeps_every_fixture_patients_age(today: date) -> None:
    for scenario in _all():
        patients = [r for top in _resources(scenario) for r in _flatten(top) if r["resourceType"] == "Patient"]
        if not patients:
            continue
        rolled = [r for top in _resources(scenario.rolled_to(today)) for r in _flatten(top)
                  if r["resourceType"] == "Patient"]
        before = _age(patients[0]["birthDate"], scenario.reference_date)
        assert _age(rolled[0]["birthDate"], today) == before, scenario.path


def test_rolled_to_moves_server_resources() -> None:
    scenario = load_scenario(FIXTURES_DIR / "escalate-occipital-nerve-block"
                             / "s03-fhir-fallback-patient-view.json")
    assert scenario.server_resources
    rolled = scenario.rolled_to(date(2025, 6, 11))
    first = scenario.server_resources[0]
    moved = rolled.server_resources[0]
    key = "performedDateTime" if "performedDateTime" in first else "performedPeriod"
    assert moved[key] != first[key]
    assert moved["id"] == first["id"]


# ------------------------------------------------------------------------------------------ check_response

TOPIC_SYSTEM = "http://cgh-cds.example.org/fhir/CodeSystem/recommendation"
PT_REFERRAL = "http://snomed.info/sct|91251008"


def _scenario(expect: Expectation) -> Scenario:
    return Scenario(path=Path("x.json"), title="t", scenario="S00", reference_date=date(2025, 6, 1),
                    service="cgh-order-sign", request={"context": {}}, expect=expect)


def _card(
    rec: str, indicator: str, *, creates: str | None = None, deletes: str | None = None
) -> dict[str, Any]:
    actions: list[dict[str, Any]] = []
    if deletes:
        actions.append({"type": "delete", "description": "Remove the order", "resourceId": deletes})
    if creates:
        system, code = creates.split("|")
        actions.append({"type": "create", "description": "Create",
                        "resource": {"resourceType": "ServiceRequest", "code": {"coding": [
                            {"system": system, "code": code}]}}})
    card: dict[str, Any] = {"uuid": str(uuid.uuid4()), "summary": "s", "indicator": indicator,
                            "source": {"label": "CGH", "topic": {"system": TOPIC_SYSTEM, "code": rec}}}
    if actions:
        card["suggestions"] = [{"label": "Do it", "actions": actions}]
    return card


IMAGING_EXPECT = Expectation(
    cards=(ExpectedCard("imaging-not-indicated", "warning", suggestion_codes=(PT_REFERRAL,),
                        deletes=("ServiceRequest/mri",)),),
    absent=("red-flags",),
)


def test_check_response_passes_a_matching_response() -> None:
    body = {"cards": [
        _card("imaging-not-indicated", "warning", creates=PT_REFERRAL, deletes="ServiceRequest/mri"),
        _card("pt-first-line", "info"),
    ]}
    assert check_response(_scenario(IMAGING_EXPECT), 200, body) == []


@pytest.mark.parametrize(
    ("cards", "fragment"),
    [
        ([], "missing card 'imaging-not-indicated'"),
        ([_card("imaging-not-indicated", "info", creates=PT_REFERRAL, deletes="ServiceRequest/mri")],
         "indicator 'info', expected 'warning'"),
        ([_card("imaging-not-indicated", "warning", deletes="ServiceRequest/mri")],
         f"no suggestion creates a resource coded {PT_REFERRAL}"),
        ([_card("imaging-not-indicated", "warning", creates=PT_REFERRAL, deletes="ServiceRequest/other")],
         "no suggestion deletes ServiceRequest/mri"),
        ([_card("imaging-not-indicated", "warning", creates=PT_REFERRAL, deletes="ServiceRequest/mri"),
          _card("red-flags", "critical")], "forbidden card 'red-flags' is present"),
        ([_card("imaging-not-indicated", "warning", creates=PT_REFERRAL, deletes="ServiceRequest/mri"),
          _card("imaging-not-indicated", "warning")], "2 cards for 'imaging-not-indicated'"),
        ([{"summary": "no topic", "indicator": "info", "source": {"label": "x"}}], "no recommendation id"),
    ],
)
def test_check_response_catches_each_mismatch(cards: list[dict[str, Any]], fragment: str) -> None:
    problems = check_response(_scenario(IMAGING_EXPECT), 200, {"cards": cards})
    assert any(fragment in p for p in problems), problems


def test_check_response_exact_rejects_extra_cards() -> None:
    scenario = _scenario(Expectation(exact=True))
    assert check_response(scenario, 200, {"cards": []}) == []
    problems = check_response(scenario, 200, {"cards": [_card("pt-first-line", "info")]})
    assert problems == ["unexpected card 'pt-first-line' (the scenario lists its cards exactly)"]


def test_check_response_status_and_error_code() -> None:
    scenario = _scenario(Expectation(status=412, error="fhir-data-unavailable"))
    assert check_response(scenario, 412, {"error": "fhir-data-unavailable", "message": "..."}) == []
    assert check_response(scenario, 412, {"error": {"code": "fhir-data-unavailable"}}) == []
    assert check_response(scenario, 200, {"cards": []}) == [
        "expected HTTP 412, got 200", "expected error code 'fhir-data-unavailable', got none"]
    assert check_response(scenario, 412, {"error": "bad-request"}) == [
        "expected error code 'fhir-data-unavailable', got 'bad-request'"]
    ok = _scenario(Expectation())
    assert check_response(ok, 500, None) == ["expected HTTP 200, got 500"]
    assert check_response(ok, 200, {"nothing": []}) == ["response body has no 'cards' array"]


def test_check_response_accepts_the_deprecated_delete_form() -> None:
    wanted = ExpectedCard("imaging-not-indicated", "warning", deletes=("ServiceRequest/mri",))
    expect = Expectation(cards=(wanted,))
    card = _card("imaging-not-indicated", "warning")
    card["suggestions"] = [{"label": "x", "actions": [{"type": "delete", "description": "d",
                                                        "resource": "ServiceRequest/mri"}]}]
    assert check_response(_scenario(expect), 200, {"cards": [card]}) == []
