"""Schemathesis over the whole API, in process: generated requests never get a 5xx, and answers match the contract.

The schema is the document exactly as ``GET /openapi.yaml`` serves it today (contract + fixture examples), so
the fixture requests are replayed first (examples phase), then schemathesis' coverage and fuzzing phases send
valid and invalid requests (positive and negative modes) to the app through its WSGI interface. Bounded: at
most ``MAX_EXAMPLES`` generated cases per operation. Authentication is off here, so the checks that need it
(negative data rejection sees a missing token accepted) run in ``tests/integration/test_fuzz.py``, against
gunicorn with a JWT per request, with every check.

The schema is loaded when the module is collected and the app is a fixture, passed to each call:
``schemathesis.pytest.from_fixture`` (which would let ``from_wsgi`` fetch the document from the app) relies on
``Item._nodeid``, which pytest 9 no longer has.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import schemathesis
import yaml
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from service.protocol import response_problems
from service.web.docs import CALL_PATHS
from service.web.docs import OpenApiDocument
from tests.contract.oas import build_app

MAX_EXAMPLES = 20


@schemathesis.check
def cds_cards_pass_the_protocol_checks(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 200 from a CDS service passes the strict card checks of :func:`service.protocol.response_problems`."""
    if case.method.upper() != "POST" or case.operation.path not in CALL_PATHS.values() or response.status_code != 200:
        return None
    problems = response_problems(response.json())
    if problems:
        raise AssertionError("the cards break CDS Hooks 2.0: " + "; ".join(problems))
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    cds_cards_pass_the_protocol_checks,
]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    # The sandbox is on so that its endpoint is fuzzed too (off, it answers every case 404).
    app = build_app(tmp_path_factory.mktemp("fuzz"), sandbox=True)
    yield app
    app.extensions["cgh_runtime"].store.dispose()


schema = schemathesis.openapi.from_dict(OpenApiDocument().build(date.today()))
schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")


def test_fuzzed_schema_is_the_served_document(fuzz_app: Flask) -> None:
    served = yaml.load(fuzz_app.test_client().get("/openapi.yaml").data, Loader=yaml.CSafeLoader)
    assert served == schema.raw_schema


@pytest.mark.fuzz
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # Large generated bodies (FHIR Bundles in prefetch) are slow to build, not a fault of the API.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    database=None,
)
def test_api_never_answers_5xx_and_follows_the_contract(fuzz_app: Flask, case: schemathesis.Case) -> None:
    case.call_and_validate(app=fuzz_app, checks=CHECKS)
