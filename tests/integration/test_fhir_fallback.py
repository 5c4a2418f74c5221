"""The fhirServer fallback against a real FHIR server (Medplum's in-memory R4 engine, not HAPI).

For every scenario in ``fhir_fixtures/`` that answers 200: load the resources of its prefetch (and its
``serverResources``) into Medplum, then build the record with prefetch fully absent, partly absent, and
paged with a tiny ``_count``, and check it equals the record built from the prefetch itself. ``null``
keys must not be fetched. A separate error-injection stub covers 401, 500 and a slow server.

Every fixture runs again against the strict mode of the server (issue 16): US Core SHALL searches only
(anything else is a 400), paged at the server's own small page size.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.errors import FhirDataUnavailableError
from service.fhir import PREFETCH_TEMPLATES
from service.fhir import load_record
from service.fhir import make_session
from service.fhir.builder import flatten
from service.fhir.record import PatientRecord
from service.fhir.request import DataRequest
from service.pathway import encounter_is_used
from service.pathway import observation_is_used
from service.scenarios import Scenario
from service.scenarios import iter_scenarios
from tests.integration.conftest import MedplumServer
from tests.unit.fhir.conftest import StubFhirServer
from tests.unit.fhir.conftest import condition
from tests.unit.fhir.conftest import patient
from tests.unit.fhir.conftest import searchset

pytestmark = pytest.mark.fhirserver

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Generous: Medplum's MemoryRepository takes 50-150 ms per search, and paged keys are read page by page.
TIMEOUT_S = 30.0


def _scenarios() -> Iterator[Any]:
    for scenario in iter_scenarios(REPO_ROOT / "fhir_fixtures"):
        prefetch = scenario.request.get("prefetch")
        if scenario.expect.status == 200 and isinstance(prefetch, dict) and prefetch:
            yield pytest.param(scenario, id=str(scenario.path.relative_to(REPO_ROOT / "fhir_fixtures")))


SCENARIOS = list(_scenarios())


def data_request(scenario: Scenario, prefetch: dict[str, Any] | None, fhir_server: str | None) -> DataRequest:
    request = scenario.request
    return DataRequest(
        hook=request["hook"],
        context=request["context"],
        prefetch=prefetch,
        fhir_server=fhir_server,
        access_token="test-token",
    )


def resources_of(scenario: Scenario) -> list[dict[str, Any]]:
    """Every resource the client's FHIR server would hold: the prefetch's and ``serverResources``."""
    values = list((scenario.request.get("prefetch") or {}).values()) + list(scenario.server_resources)
    return [copy.deepcopy(entry.resource) for value in values for entry in flatten(value)]


def record(
    scenario: Scenario,
    prefetch: dict[str, Any] | None,
    fhir_server: str | None,
    templates: dict[str, str] | None = None,
    max_pages: int = 10,
) -> PatientRecord:
    return load_record(
        data_request(scenario, prefetch, fhir_server),
        templates or dict(PREFETCH_TEMPLATES),
        timeout_s=TIMEOUT_S,
        session=make_session(),
        max_pages=max_pages,
        # As the service reads them: the Observation template asks only for the codes the pathway reads.
        observation_filter=observation_is_used,
        encounter_filter=encounter_is_used,
    )


def comparable(value: PatientRecord) -> PatientRecord:
    return replace(value, notes=())


@pytest.fixture
def seeded(medplum: MedplumServer, request: pytest.FixtureRequest) -> tuple[Scenario, MedplumServer]:
    scenario: Scenario = request.param
    medplum.seed(resources_of(scenario))
    return scenario, medplum


@pytest.mark.parametrize("seeded", SCENARIOS, indirect=True)
def test_fetched_record_equals_the_prefetched_one(seeded: tuple[Scenario, MedplumServer]) -> None:
    """Prefetch fully absent, partly absent (each half of the keys), and paged three resources a page."""
    scenario, server = seeded
    prefetch = scenario.request["prefetch"]
    expected = comparable(record(scenario, prefetch, server.base_url))

    assert comparable(record(scenario, None, server.base_url)) == expected, "prefetch absent"

    keys = sorted(prefetch)
    for dropped in (keys[::2], keys[1::2]):
        partial = {key: value for key, value in prefetch.items() if key not in dropped}
        assert comparable(record(scenario, partial, server.base_url)) == expected, f"without {dropped}"

    tiny = {key: _with_count(template, 3) for key, template in PREFETCH_TEMPLATES.items()}
    paged = record(scenario, None, server.base_url, tiny, max_pages=1000)
    assert comparable(paged) == expected, "paged with _count=3"


def _with_count(template: str, count: int) -> str:
    """``template`` with a page size (the lenient server honours ``_count``; the templates do not send it)."""
    return template if "?" not in template else f"{template}&_count={count}"


@pytest.fixture
def strictly_seeded(
    strict_medplum: MedplumServer, request: pytest.FixtureRequest
) -> tuple[Scenario, MedplumServer]:
    scenario: Scenario = request.param
    strict_medplum.seed(resources_of(scenario))
    return scenario, strict_medplum


@pytest.mark.parametrize("strictly_seeded", SCENARIOS, indirect=True)
def test_strict_server_gives_the_prefetched_record(strictly_seeded: tuple[Scenario, MedplumServer]) -> None:
    """Every fixture, the discovery templates against a strict server: nothing refused, every small page
    followed, and the record of the fixture's own prefetch (completed from the server where it has
    ``serverResources``)."""
    scenario, server = strictly_seeded
    prefetch = scenario.request["prefetch"]
    fetched = record(scenario, prefetch, server.base_url, max_pages=1000)
    assert fetched.unavailable == (), fetched.notes
    everything = record(scenario, None, server.base_url, max_pages=1000)
    assert everything.unavailable == (), everything.notes
    assert comparable(everything) == comparable(fetched)


def test_strict_server_refuses_what_us_core_does_not_require(strict_medplum: MedplumServer) -> None:
    """The strict mode can fail a template: the pre-issue-16 ones get 400, and the key becomes unavailable."""
    strict_medplum.seed([patient("p1"), condition("c1", subject="Patient/p1")])
    scenario = _inline("p1")
    old = {
        "patient": PREFETCH_TEMPLATES["patient"],
        "conditions": PREFETCH_TEMPLATES["conditions"],
        "observations": "Observation?patient={{context.patientId}}&_sort=-date&_count=100",
        "medicationrequests": "MedicationRequest?patient={{context.patientId}}&status=active,draft&_count=100",
    }
    result = record(scenario, None, strict_medplum.base_url, old)
    assert [c.ref for c in result.conditions] == ["Condition/c1"]
    assert result.unavailable == ("medicationrequests", "observations")
    assert all("400 Bad Request" in note for note in result.notes), result.notes
    with pytest.raises(FhirDataUnavailableError, match="'conditions'.*400 Bad Request"):
        record(scenario, None, strict_medplum.base_url, {"conditions": old["conditions"] + "&_sort=-date"})


def test_strict_server_pages_at_its_own_size(strict_medplum: MedplumServer) -> None:
    strict_medplum.seed([patient("p1")] + [condition(f"c{i}", subject="Patient/p1") for i in range(5)])
    first = strict_medplum.get("Condition?patient=p1")
    assert len(first["entry"]) < 5 and any(link["relation"] == "next" for link in first["link"])
    full = record(_inline("p1"), None, strict_medplum.base_url, {"conditions": PREFETCH_TEMPLATES["conditions"]})
    assert [c.ref for c in full.conditions] == [f"Condition/c{i}" for i in range(5)]


def _inline(patient_id: str) -> Scenario:
    return Scenario(
        path=Path("inline"),
        title="inline",
        scenario="inline",
        reference_date=date(2025, 6, 1),
        service="cgh-patient-view",
        request={"hook": "patient-view", "context": {"patientId": patient_id}},
    )


def test_paging_really_follows_next_links(medplum: MedplumServer) -> None:
    medplum.seed([patient("p1")] + [condition(f"c{i}", subject="Patient/p1") for i in range(5)])
    scenario = Scenario(
        path=Path("inline"),
        title="paging",
        scenario="paging",
        reference_date=date(2025, 6, 1),
        service="cgh-patient-view",
        request={"hook": "patient-view", "context": {"patientId": "p1"}},
    )
    templates = {"conditions": _with_count(PREFETCH_TEMPLATES["conditions"], 2)}
    full = record(scenario, None, medplum.base_url, templates)
    assert [c.ref for c in full.conditions] == [f"Condition/c{i}" for i in range(5)]
    capped = record(scenario, None, medplum.base_url, templates, max_pages=2)
    assert len(capped.conditions) == 4
    assert capped.notes == ("prefetch key 'conditions': read the first 2 pages only (page cap)",)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_null_keys_are_not_fetched(scenario: Scenario, medplum: MedplumServer) -> None:
    """Empty server: every key null gives an empty record without 412, i.e. nothing was fetched."""
    nulls = {key: None for key in PREFETCH_TEMPLATES}
    result = record(scenario, nulls, medplum.base_url)
    assert (result.patient, result.conditions, result.procedures, result.observations) == (None, (), (), ())


COMPLETE_PREFETCH = [
    param for param in SCENARIOS if set(PREFETCH_TEMPLATES) <= set(param.values[0].request["prefetch"])
]


@pytest.mark.parametrize("scenario", COMPLETE_PREFETCH)
def test_empty_prefetch_keys_can_be_null_instead(scenario: Scenario) -> None:
    """An empty searchset and null mean the same thing: no data, no fetch (no fhirServer needed)."""
    prefetch = scenario.request["prefetch"]
    nulled = {
        key: None
        if isinstance(value, dict) and value.get("resourceType") == "Bundle" and not value.get("entry")
        else value
        for key, value in prefetch.items()
    }
    assert comparable(record(scenario, nulled, None)) == comparable(record(scenario, prefetch, None))


# --- error injection ------------------------------------------------------------------------------------


def _inline_request(fhir_server: str) -> DataRequest:
    return DataRequest(
        hook="patient-view", context={"patientId": "p1"}, prefetch=None, fhir_server=fhir_server, access_token="t"
    )


@pytest.mark.parametrize(("status", "reason"), [(401, "401 Unauthorized"), (500, "500")])
def test_error_status_from_fhir_server_is_412(fhir_stub: StubFhirServer, status: int, reason: str) -> None:
    fhir_stub.route("/fhir/Patient/p1", patient("p1"))
    fhir_stub.route("/fhir/Condition", {"resourceType": "OperationOutcome"}, status=status)
    with pytest.raises(FhirDataUnavailableError, match=f"'conditions'.*{reason}"):
        load_record(_inline_request(fhir_stub.base_url), PREFETCH_TEMPLATES, timeout_s=TIMEOUT_S)


def test_slow_fhir_server_gives_412_within_budget(fhir_stub: StubFhirServer) -> None:
    for path in ("Condition", "Procedure", "ServiceRequest", "MedicationRequest", "Observation"):
        fhir_stub.route(f"/fhir/{path}", searchset(), delay_s=0.1)
    fhir_stub.route("/fhir/Patient/p1", patient("p1"), delay_s=4.0)
    budget = 1.0
    started = time.monotonic()
    with pytest.raises(FhirDataUnavailableError, match="'patient'.*did not answer within"):
        load_record(_inline_request(fhir_stub.base_url), PREFETCH_TEMPLATES, timeout_s=budget)
    assert time.monotonic() - started < budget + 1.0
