"""Hypothesis properties over the raw request parser: it refuses exactly what ``openapi.yaml`` refuses.

* For hook requests and feedback built from valid ones with fields replaced by awkward values (malformed URLs,
  ids with NUL or spaces, numbers as strings, impossible dates, nulls, nesting), the parser accepts a body
  exactly when the contract's schema does (formats checked, as a strict client would).
* For any bytes, reading the body and parsing it raises nothing but ``BadRequestError``.

In process and fast: a few hundred examples each, derandomized so CI is repeatable (``scripts/fuzz`` runs the
long, random fuzzing against a running service).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from service.errors import BadRequestError
from service.protocol import Hook
from service.protocol import parse_feedback
from service.protocol import parse_hook_request
from service.protocol.requests import FHIR_ID_PATTERN
from service.protocol.requests import FHIR_SERVER_PATTERN
from service.protocol.requests import REFERENCE_PATTERN
from service.protocol.requests import ecma_pattern
from tests.contract.oas import load_contract
from tests.contract.oas import schema_validator

CONTRACT = load_contract()
EXAMPLES = 200

_DRAFTS = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ServiceRequest", "id": "a"}}]}
VALID: dict[Hook, tuple[str, dict[str, Any]]] = {
    Hook.PATIENT_VIEW: ("PatientViewRequest", {}),
    Hook.ENCOUNTER_START: ("EncounterStartRequest", {"encounterId": "e1"}),
    Hook.ORDER_SIGN: ("OrderSignRequest", {"draftOrders": _DRAFTS}),
    Hook.ORDER_SELECT: ("OrderSelectRequest", {"draftOrders": _DRAFTS, "selections": ["ServiceRequest/a"]}),
}

#: Where a mutation may land (a path of keys and indexes into the request).
HOOK_FIELDS: list[tuple[Any, ...]] = [
    ("hook",), ("hookInstance",), ("fhirServer",), ("fhirAuthorization",), ("fhirAuthorization", "access_token"),
    ("fhirAuthorization", "expires_in"), ("fhirAuthorization", "token_type"), ("fhirAuthorization", "scope"),
    ("context",), ("context", "userId"), ("context", "patientId"), ("context", "encounterId"),
    ("context", "selections"), ("context", "selections", 0), ("context", "draftOrders"),
    ("context", "draftOrders", "resourceType"), ("context", "draftOrders", "entry"),
    ("context", "draftOrders", "entry", 0), ("context", "draftOrders", "entry", 0, "resource"),
    ("context", "draftOrders", "entry", 0, "resource", "resourceType"), ("prefetch",), ("prefetch", "patient"),
    ("extension",),
]  # fmt: skip
FEEDBACK_FIELDS: list[tuple[Any, ...]] = [
    ("feedback",), ("feedback", 0), ("feedback", 0, "card"), ("feedback", 0, "outcome"),
    ("feedback", 0, "outcomeTimestamp"), ("feedback", 0, "acceptedSuggestions"),
    ("feedback", 0, "acceptedSuggestions", 0, "id"), ("feedback", 0, "overrideReason"),
    ("feedback", 0, "overrideReason", "reason"), ("feedback", 0, "overrideReason", "reason", "system"),
    ("feedback", 0, "overrideReason", "reason", "code"), ("feedback", 0, "overrideReason", "userComment"),
]  # fmt: skip

#: Not here: leap seconds and year 0000, where the Python validator used below (rfc3339-validator) refuses what
#: RFC 3339 and schemathesis' validator (jsonschema-rs) accept, as the service does (tests/unit/protocol).
AWKWARD_STRINGS = [
    "", " ", "\x00", "a\x00b", "\n", "0", "-1", "300", "null", "Patient/1", "Practitioner/1", "p 1", "p" * 64,
    "p" * 65, "x" * 257, "x" * 513, "é", "\u2028", "Practitioner/", "/1", "a/b/c",
    "https://ehr]example.org/fhir", "http://[::1", "HTTP://0", "https://0", "http://localhost:8080/fhir",
    "http://127.0.0.1:9/fhir", "http://[::1]/fhir", "http://127.256.0.1/fhir", "https://ehr.example.org:99999",
    "https://ehr.example.org:0", "https://ehr.example.org/fhir\n", "https://u:p@ehr.example.org",
    "https://ehr.example.org/?q", "https://ehr.example.org/%zz", "https://ehr.example.org/%7E",
    "2025-06-01", "2025-06-01T10:05:31Z", "2025-06-01T10:05:31", "2025-06-01T10:05:31.5+02:00",
    "2025-02-30", "2024-02-29", "2023-02-29", "2025-06-01T24:00:00Z", "2025-06-01T10:00:60Z",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "20250601", "2025-06-01 10:05:31Z",
    "2025-06-01t10:05:31z", "accepted", "overridden", "Bundle", "patient-view", "order-sign", "a.b-c",
    "eyJhbGciOi.J9-_~+/=", "tok en",
]  # fmt: skip
AWKWARD = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(AWKWARD_STRINGS)
    | st.text(max_size=20)
    | st.from_regex(ecma_pattern(FHIR_SERVER_PATTERN))
    | st.from_regex(ecma_pattern(FHIR_ID_PATTERN))
    | st.from_regex(ecma_pattern(REFERENCE_PATTERN)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["resourceType", "id", "x"]),
                                                                      children, max_size=3),
    max_leaves=6,
)


def _mutate(draw: st.DrawFn, body: dict[str, Any], fields: list[tuple[Any, ...]]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(fields))
        parent: Any = body
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                break
        else:
            last = path[-1]
            if isinstance(parent, dict) and draw(st.integers(0, 4)) == 0:
                parent.pop(last, None)
            # An earlier mutation may have made the parent a list where the path names a key: leave it then.
            elif isinstance(parent, dict) or (
                isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent)
            ):
                parent[last] = draw(AWKWARD)
    return body


@st.composite
def hook_requests(draw: st.DrawFn) -> tuple[Hook, str, dict[str, Any]]:
    hook = draw(st.sampled_from(list(VALID)))
    schema, context = VALID[hook]
    body: dict[str, Any] = {
        "hook": hook.value,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/1", "patientId": "p1", **copy.deepcopy(context)},
    }
    if draw(st.booleans()):
        body["fhirServer"] = "https://ehr.example.org/fhir"
        body["fhirAuthorization"] = {"access_token": "t0k.en", "token_type": "Bearer", "expires_in": 300}
    if draw(st.booleans()):
        body["prefetch"] = {"patient": {"resourceType": "Patient", "id": "p1"}, "conditions": None}
    if draw(st.booleans()):
        body["extension"] = {"com.example": {"a": 1}}
    return hook, schema, _mutate(draw, body, HOOK_FIELDS)


@st.composite
def feedback_bodies(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2025-06-01T10:05:31Z"}
    if draw(st.booleans()):
        item.update(outcome="accepted", acceptedSuggestions=[{"id": "s1"}])
    if draw(st.booleans()):
        item["overrideReason"] = {"reason": {"system": "https://example.org/r", "code": "x"}, "userComment": "c"}
    return _mutate(draw, {"feedback": [item]}, FEEDBACK_FIELDS)


def _accepted(parse: Any, *args: Any) -> bool:
    try:
        parse(*args)
    except BadRequestError:
        return False
    return True


def _property_settings() -> settings:
    return settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip


_VALIDATORS = {schema: schema_validator(CONTRACT, f"/components/schemas/{schema}") for schema, _ in VALID.values()}
_FEEDBACK_VALIDATOR = schema_validator(CONTRACT, "/components/schemas/FeedbackRequest")


@_property_settings()
@given(case=hook_requests())
def test_parser_accepts_a_hook_request_exactly_when_the_contract_does(case: tuple[Hook, str, dict[str, Any]]) -> None:
    hook, schema, body = case
    contract_errors = [error.message for error in _VALIDATORS[schema].iter_errors(body)]
    assert _accepted(parse_hook_request, body, hook) is (not contract_errors), (json.dumps(body), contract_errors)


@_property_settings()
@given(body=feedback_bodies())
def test_parser_accepts_feedback_exactly_when_the_contract_does(body: dict[str, Any]) -> None:
    contract_errors = [error.message for error in _FEEDBACK_VALIDATOR.iter_errors(body)]
    assert _accepted(parse_feedback, body) is (not contract_errors), (json.dumps(body), contract_errors)


@pytest.mark.parametrize("hook", list(Hook))
def test_the_valid_bases_are_valid(hook: Hook) -> None:
    """The properties start from valid requests (else they would only ever compare two refusals)."""
    schema, context = VALID[hook]
    body = {"hook": hook.value, "hookInstance": "h", "context": {"userId": "Practitioner/1", "patientId": "p1",
                                                                   **context}}
    assert list(_VALIDATORS[schema].iter_errors(body)) == []
    assert _accepted(parse_hook_request, body, hook)


@_property_settings()
@given(raw=st.binary(max_size=200) | AWKWARD.map(lambda v: json.dumps(v).encode()), hook=st.sampled_from(list(Hook)))
def test_any_bytes_are_parsed_or_refused_with_a_bad_request(raw: bytes, hook: Hook) -> None:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # the web layer answers 400 for this (tests/web)
    for parse, args in ((parse_hook_request, (payload, hook)), (parse_feedback, (payload,))):
        try:
            parse(*args)
        except BadRequestError as error:
            assert error.message.strip()
