"""Hook request and feedback parsing: lenient with real clients, precise about what is wrong."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from service.errors import BadRequestError
from service.protocol import FeedbackOutcome
from service.protocol import Hook
from service.protocol import parse_feedback
from service.protocol import parse_hook_request
from tests.conftest import REALWORLD_DIR
from tests.unit.protocol.hook_bodies import BASE
from tests.unit.protocol.hook_bodies import hook_body

CAPTURED = REALWORLD_DIR / "cds-hooks-examples" / "sandbox-captured"



def test_minimal_patient_view_request_parses() -> None:
    request = parse_hook_request(hook_body(), Hook.PATIENT_VIEW)
    assert request.patient_id == "1288992"
    assert request.prefetch is None and request.fhir_server is None and request.access_token is None


def test_unknown_fields_and_extensions_are_ignored() -> None:
    body = hook_body(extension={"com.example.x": {"a": 1}}, somethingNew=True)
    body["context"]["futureField"] = "kept"
    request = parse_hook_request(body, Hook.PATIENT_VIEW)
    assert request.context["futureField"] == "kept"


def test_access_token_never_appears_in_repr() -> None:
    body = hook_body(
        fhirServer="https://fhir.example.org/r4",
        fhirAuthorization={"access_token": "secret-token-123", "token_type": "Bearer", "expires_in": 300,
                           "scope": "user/*.read", "subject": "cgh"},
    )
    request = parse_hook_request(body, Hook.PATIENT_VIEW)
    assert request.access_token == "secret-token-123"
    assert "secret-token-123" not in repr(request)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({k: v for k, v in BASE.items() if k != "hookInstance"}, ["hookInstance", "required"]),
        ({k: v for k, v in BASE.items() if k != "context"}, ["context", "required"]),
        (hook_body(context={"userId": "Practitioner/1"}), ["context.patientId", "required"]),
        (hook_body(context="nope"), ["context", "JSON object"]),
        (hook_body(fhirAuthorization={"access_token": "t"}), ["fhirServer", "fhirAuthorization"]),
        (hook_body(fhirServer="ftp://x"), ["fhirServer", "https://"]),
        (hook_body(hookInstance=""), ["hookInstance"]),
    ],
)
def test_malformed_requests_name_the_field(body: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(BadRequestError) as excinfo:
        parse_hook_request(body, Hook.PATIENT_VIEW)
    for fragment in fragments:
        assert fragment in excinfo.value.message


def test_wrong_hook_for_the_service_is_a_distinct_error() -> None:
    with pytest.raises(BadRequestError) as excinfo:
        parse_hook_request(hook_body(), Hook.ORDER_SIGN)
    assert excinfo.value.code == "wrong-hook"
    assert "order-sign" in excinfo.value.message


def test_encounter_start_requires_encounter_id() -> None:
    with pytest.raises(BadRequestError, match="encounterId"):
        parse_hook_request(hook_body(hook="encounter-start"), Hook.ENCOUNTER_START)


def test_order_select_selection_outside_draft_orders_selects_nothing_and_is_noted() -> None:
    body = hook_body(hook="order-select")
    body["context"].update(
        selections=["ServiceRequest/missing", "ServiceRequest/a"],
        draftOrders={"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ServiceRequest", "id": "a"}}]},
    )
    request = parse_hook_request(body, Hook.ORDER_SELECT)
    assert request.notes == (
        "context.selections: 1 selection(s) name no entry of context.draftOrders and select nothing",
    )


def test_draft_orders_must_be_a_bundle() -> None:
    body = hook_body(hook="order-sign")
    body["context"]["draftOrders"] = {"resourceType": "List"}
    with pytest.raises(BadRequestError, match="draftOrders"):
        parse_hook_request(body, Hook.ORDER_SIGN)


@pytest.mark.parametrize("name", sorted(p.name for p in CAPTURED.glob("*.json") if p.name != "discovery-get.json"))
def test_requests_captured_from_the_real_sandbox_parse(name: str) -> None:
    captured = orjson.loads((CAPTURED / name).read_bytes())
    body = captured["body"]
    hook = Hook(body["hook"])
    request = parse_hook_request(body, hook)
    assert request.hook is hook


def test_feedback_accepted_and_overridden_as_real_clients_send_them() -> None:
    items = parse_feedback(
        {
            "feedback": [
                {"card": "c1", "outcome": "accepted", "acceptedSuggestions": [{"id": "s1"}],
                 "outcomeTimestamp": "2021-12-11T10:05:31.123Z"},
                {"card": "c2", "outcome": "overridden", "overrideReason": {"reason": {"code": "x"}},
                 "outcomeTimestamp": "2020-12-16"},
                {"card": "c3", "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"},
            ]
        }
    )
    assert [i.outcome for i in items] == [FeedbackOutcome.ACCEPTED, FeedbackOutcome.OVERRIDDEN,
                                         FeedbackOutcome.OVERRIDDEN]
    assert items[0].accepted_suggestions == ("s1",)
    assert items[1].override_code == "x" and items[1].override_system is None
    assert items[1].outcome_timestamp.tzinfo is not None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "feedback"),
        ({"feedback": []}, "feedback"),
        ({"feedback": [{"card": "c", "outcome": "ignored", "outcomeTimestamp": "2020-01-01"}]}, "outcome"),
        ({"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2020-01-01"}]},
         "acceptedSuggestions"),
        ({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}]},
         "outcomeTimestamp"),
        ({"feedback": [{"outcome": "overridden", "outcomeTimestamp": "2020-01-01"}]}, "card"),
        ([], "JSON object"),
    ],
)
def test_invalid_feedback_is_rejected_with_the_field(body: Any, fragment: str) -> None:
    with pytest.raises(BadRequestError) as excinfo:
        parse_feedback(body)
    assert fragment in excinfo.value.message
