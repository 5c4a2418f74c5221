"""Fuzzing: no 5xx, whatever arrives, and the answers are what ``openapi.yaml`` says.

1. The schemathesis CLI against a real ``cgh-cds serve`` (gunicorn, two workers, ``CGH_AUTH=required``): every
   operation of ``openapi.yaml``, every check (``-c all``: no server error, status codes, content types,
   response schemas and headers, positive data accepted, negative data rejected, missing/ignored auth, Allow
   headers, ...) and every phase (examples, coverage, fuzzing, stateful), with a fresh client JWT per request
   signed by the hooks module ``tests/fuzzing/st_hooks.py``. Bounded here (a few examples per operation);
   ``scripts/fuzz`` runs the same with 1,000 examples per operation and a rotating seed.
2. hypothesis over request bodies, in process, with a valid JWT on each call: arbitrary JSON, raw bytes and
   scenario requests from ``fhir_fixtures/`` with subtrees replaced, deleted or retyped. The app runs with
   exceptions propagating, so a would-be 500 fails the test with its traceback.

Every failure either part ever found is a regression test (tests/unit/protocol/test_request_edges.py and the
contract tests).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from service import create_app
from service.config import AuthMode
from service.config import Settings
from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR
from tests.fuzzing.report import figures_of
from tests.fuzzing.target import FuzzTarget
from tests.fuzzing.target import fuzz_target
from tests.fuzzing.target import run_schemathesis
from tests.unit.security.signing import ISS
from tests.unit.security.signing import mint
from tests.unit.security.signing import new_rsa_key

pytestmark = pytest.mark.fuzz

SERVICE_IDS = ["cgh-patient-view", "cgh-encounter-start", "cgh-order-select", "cgh-order-sign"]
KEY = new_rsa_key("fuzz-key")  # RS384: the cheapest signature to make and check, so the budget goes to bodies
#: A loopback port nothing listens on: a fhirServer fallback fails at once instead of reaching out.
DEAD_FHIR_SERVER = "http://127.0.0.1:9/fhir"
#: Examples per operation in CI: a couple of minutes on two cores (the coverage phase adds its own cases).
CI_MAX_EXAMPLES = 5
CI_SEED = 20261129


# --- 1. schemathesis CLI against gunicorn -----------------------------------------------------------------


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    with fuzz_target(tmp_path_factory.mktemp("fuzz")) as running:
        yield running
        log = running.service.log()
    assert "Traceback" not in log


@pytest.mark.timeout(900)  # ~1-2 min on two idle cores; the coverage phase's cases dominate
def test_schemathesis_with_every_check_and_phase_finds_nothing(target: FuzzTarget) -> None:
    run = run_schemathesis(target, max_examples=CI_MAX_EXAMPLES, seed=CI_SEED, name="ci")
    print(f"schemathesis -c all, all phases: {run.cases} cases in {run.seconds:.0f} s")
    assert run.ok, run.output[-8000:]
    assert "Runtime Error" not in run.output and "🚫" not in run.output, run.output[-8000:]
    assert run.cases >= 200, run.output[-3000:]
    # Every phase ran to its end and sent requests; the per-phase figures add up to schemathesis' own total.
    figures = run.figures
    assert figures.complete, figures.table()
    assert all(phase.cases > 0 and phase.status == "success" for phase in figures.phases.values()), figures.table()
    assert figures.cases == run.cases and figures.failures == [], figures.table()
    assert figures.reauth_count == 0, "a token went stale before its request was sent"
    # A report cut before the stateful phase ended does not pass for a complete run.
    events = (target.workdir / "ci.ndjson").read_text().splitlines()
    stateful_end = next(i for i, line in enumerate(events) if '"PhaseFinished"' in line and '"stateful"' in line)
    assert not figures_of(json.loads(line) for line in events[:stateful_end]).complete
    # The hook's tokens are all good: the only refusals are schemathesis' own missing/garbled-auth probes.
    probes = {"no Authorization header", "Authorization scheme is not Bearer", "bearer value is not a compact JWS",
              "malformed token", "bad signature", "issuer not trusted", "alg 'none' not accepted"}  # fmt: skip
    assert set(target.rejection_reasons()) <= probes, Counter(target.rejection_reasons())


# --- 2. hypothesis over request bodies, in process --------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("fuzz-app")
    clients = tmp / "trusted-clients.json"
    clients.write_text(json.dumps([{"iss": ISS, "jwks": KEY.jwks()}]))
    app = create_app(
        Settings(
            public_base_url="https://cds.example.org",
            database_url=f"sqlite:///{tmp / 'fuzz.sqlite3'}",
            auth=AuthMode.REQUIRED,
            trusted_clients_path=clients,
            cors_origins=("https://sandbox.cds-hooks.org",),
            fhir_timeout_s=0.5,
            instance_path=tmp,
            audit_key="fuzz",
            testing=True,  # exceptions propagate: a would-be 500 fails the example with its traceback
        )
    )
    yield app
    app.extensions["cgh_runtime"].store.dispose()


_COUNTS: dict[str, int] = {}


def _post(app: Flask, path: str, body: bytes, content_type: str = "application/json") -> int:
    token = mint(KEY, iss=ISS, aud="https://cds.example.org" + path)
    response = app.test_client().post(
        path, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": content_type}
    )
    assert response.status_code < 500, (path, response.status_code, response.get_data()[:500])
    if response.status_code >= 400:
        assert set(response.get_json()) <= {"error", "message"}
        assert "Traceback" not in response.get_data(as_text=True)
    return response.status_code


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)

_SCENARIOS = [s.rolled_to(date.today()) for s in iter_scenarios(FIXTURES_DIR) if not s.server_resources]


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _paths(value, (*prefix, index))


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A real scenario request with one to three subtrees replaced, deleted or retyped."""
    scenario = draw(st.sampled_from(_SCENARIOS))
    request = json.loads(json.dumps(scenario.request))
    if "fhirServer" in request:
        request["fhirServer"] = DEAD_FHIR_SERVER
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(request) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = request
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "stringify", "wrap"]))
        last = path[-1]
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(json_values)
        elif action == "stringify":
            parent[last] = json.dumps(parent[last])
        else:
            parent[last] = [parent[last]]
    if isinstance(request.get("fhirServer"), str):
        request["fhirServer"] = DEAD_FHIR_SERVER
    return scenario.service, request


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples, deadline=None, database=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )  # fmt: skip


@fuzz_settings(900)
@given(case=mutated_requests())
def test_mutated_scenario_requests_never_5xx(fuzz_app: Flask, case: tuple[str, dict[str, Any]]) -> None:
    service_id, request = case
    _post(fuzz_app, f"/cds-services/{service_id}", json.dumps(request).encode())
    _COUNTS["mutated"] = _COUNTS.get("mutated", 0) + 1


@fuzz_settings(500)
@given(service_id=st.sampled_from(SERVICE_IDS), body=json_values, feedback=st.booleans())
def test_arbitrary_json_bodies_never_5xx(fuzz_app: Flask, service_id: str, body: Any, feedback: bool) -> None:
    path = f"/cds-services/{service_id}" + ("/feedback" if feedback else "")
    _post(fuzz_app, path, json.dumps(body).encode())
    _COUNTS["json"] = _COUNTS.get("json", 0) + 1


@fuzz_settings(300)
@given(
    service_id=st.sampled_from([*SERVICE_IDS, "no-such-service"]),
    body=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "application/fhir+json", "text/plain", "", "application/x"]),
)
def test_raw_bytes_never_5xx(fuzz_app: Flask, service_id: str, body: bytes, content_type: str) -> None:
    _post(fuzz_app, f"/cds-services/{service_id}", body, content_type)
    _COUNTS["bytes"] = _COUNTS.get("bytes", 0) + 1


@fuzz_settings(300)
@given(
    feedback=st.lists(
        st.fixed_dictionaries(
            {
                "card": st.one_of(st.uuids().map(str), json_values),
                "outcome": st.sampled_from(["accepted", "overridden", "other", 3]),
                "outcomeTimestamp": st.one_of(
                    st.datetimes().map(lambda d: d.isoformat() + "Z"), st.dates().map(str), json_values
                ),
            },
            optional={"acceptedSuggestions": json_values, "overrideReason": json_values},
        ),
        max_size=4,
    )
)
def test_feedback_shapes_never_5xx(fuzz_app: Flask, feedback: list[dict[str, Any]]) -> None:
    _post(fuzz_app, "/cds-services/cgh-patient-view/feedback", json.dumps({"feedback": feedback}).encode())
    _COUNTS["feedback"] = _COUNTS.get("feedback", 0) + 1


def test_hypothesis_ran_at_least_2000_cases() -> None:
    """Runs after the property tests above (file order): their generated cases add up to 2,000 or more."""
    total = sum(_COUNTS.values())
    print(f"hypothesis cases: {_COUNTS} = {total}")
    if not _COUNTS:
        pytest.skip("run with the property tests above")
    assert total >= 2000, _COUNTS


def test_deep_nesting_is_refused_cleanly(fuzz_app: Flask) -> None:
    for depth in (100, 500, 1000, 1100, 50_000):
        body = b'{"hook": "patient-view", "hookInstance": "x", "context": ' + b"[" * depth + b"]" * depth + b"}"
        assert 400 <= _post(fuzz_app, "/cds-services/cgh-patient-view", body) < 500
        body = b'{"feedback": [' + b'{"a":' * depth + b"1" + b"}" * depth + b"]}"
        assert 400 <= _post(fuzz_app, "/cds-services/cgh-patient-view/feedback", body) < 500
