"""Regression tests: every input that once got a 500, or was accepted although the contract refuses it.

Each case here was found by fuzzing (schemathesis against a running service, or hypothesis over the parser)
or by auditing where client input is parsed. A malformed value is a ``BadRequestError`` (400) whose message
names the field and says what to send instead; a well-formed one is accepted as the contract says.
"""

from __future__ import annotations

import copy
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest

from service.errors import BadRequestError
from service.protocol import Hook
from service.protocol import parse_feedback
from service.protocol import parse_hook_request
from service.protocol.requests import parse_timestamp
from tests.unit.protocol.hook_bodies import BASE
from tests.unit.protocol.hook_bodies import hook_body


def _context(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(BASE)
    body["context"].update(changes)
    return body


def _refused(body: Any, hook: Hook = Hook.PATIENT_VIEW) -> str:
    with pytest.raises(BadRequestError) as excinfo:
        parse_hook_request(body, hook)
    assert excinfo.value.status == 400 and excinfo.value.code == "bad-request"
    return excinfo.value.message


# --- fhirServer ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://ehr]example.org/fhir",  # urlsplit: ValueError "Invalid IPv6 URL" (was a 500)
        "http://[::1",  # idem
        "https://[fe80::1%eth0]/fhir",
        "https://ehr.example.org:99999/fhir",  # port out of range (urlsplit raises only when asked)
        "https://ehr.example.org:abc/fhir",
        "HTTP://0",  # plain http to a host that is not loopback
        "http://ehr.example.org/fhir",
        "https://user:pass@ehr.example.org/fhir",
        "https://ehr.example.org/fhir?x=1",
        "https://ehr.example.org/fhir#frag",
        "https://ehr example.org/fhir",
        " https://ehr.example.org/fhir",
        "https://ehr.example.org/fhir\n",  # Python's `$` matches before a final newline; JSON Schema's does not
        "https://ehr.example.org/fh\x00ir",
        "https://ehr.example.org/f%zzhir",
        "https://-ehr.example.org",
        "https://",
        "ehr.example.org/fhir",
        "ftp://ehr.example.org",
        "https://" + "a" * 64 + ".org",  # a DNS label is at most 63 characters
        "https://ehr.example.org/" + "f" * 2048,
        "https://ehr.example.org/\udc80",
    ],
)
def test_malformed_fhir_server_is_a_400_naming_the_field(url: str) -> None:
    message = _refused(hook_body(fhirServer=url))
    assert "fhirServer:" in message and ("https://" in message or "maximum length 2048" in message)


@pytest.mark.parametrize(
    "url",
    [
        "https://ehr.example.org/fhir",
        "https://ehr.example.org:8443/fhir/r4/",
        "HTTPS://EHR.example.org",
        "https://0",
        "https://10.0.0.7/fhir",
        "http://localhost:8080/fhir",
        "http://LOCALHOST/fhir",
        "http://127.0.0.1:9/fhir",
        "http://[::1]:8080/fhir",
        "https://ehr.example.org/fhir/%7Esite/a;b=c",
    ],
)
def test_fhir_server_the_contract_allows_is_accepted(url: str) -> None:
    assert parse_hook_request(hook_body(fhirServer=url), Hook.PATIENT_VIEW).fhir_server == url


# --- ids, references and text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_context(patientId="a\x00b"), "context.patientId"),
        (_context(patientId="Patient/123"), "context.patientId"),
        (_context(patientId="p" * 65), "context.patientId"),
        (_context(patientId="p 1"), "context.patientId"),
        (_context(encounterId="e\x00"), "context.encounterId"),
        (_context(userId="123"), "context.userId"),
        (_context(userId="Practitioner/"), "context.userId"),
        (_context(userId="Practitioner/a\x00"), "context.userId"),
        (hook_body(hookInstance="a\x00b"), "hookInstance"),
        (hook_body(hookInstance="h" * 257), "hookInstance"),
        (hook_body(extension="not an object"), "extension"),
        (hook_body(prefetch={"patient": "Patient/1"}), "prefetch.patient.value"),
        (hook_body(prefetch={"patient": [{"resourceType": "Patient"}]}), "prefetch.patient.value"),
        (hook_body(extension=None), "extension"),
        (hook_body(fhirServer="https://ehr.example.org", fhirAuthorization={"access_token": "a b"}),
         "fhirAuthorization.access_token"),
        (hook_body(fhirServer="https://ehr.example.org", fhirAuthorization={"access_token": "t\r\nX-Evil: 1"}),
         "fhirAuthorization.access_token"),
        (hook_body(fhirServer="https://ehr.example.org", fhirAuthorization={"access_token": "t", "expires_in": "300"}),
         "fhirAuthorization.expires_in"),
        (hook_body(fhirServer="https://ehr.example.org", fhirAuthorization={"access_token": "t", "expires_in": True}),
         "fhirAuthorization.expires_in"),
        (hook_body(fhirServer="https://ehr.example.org", fhirAuthorization={"access_token": "t", "expires_in": 1.5}),
         "fhirAuthorization.expires_in"),
    ],
)
def test_malformed_identifiers_are_a_400_naming_the_field(body: dict[str, Any], field: str) -> None:
    assert f"{field}:" in _refused(body)


def test_integral_number_is_an_integer_as_json_schema_says() -> None:
    body = hook_body(fhirServer="https://ehr.example.org", fhirAuthorization={"access_token": "t", "expires_in": 300.0})
    assert parse_hook_request(body, Hook.PATIENT_VIEW).access_token == "t"


@pytest.mark.parametrize(
    "entries",
    [[5], ["ServiceRequest/1"], [{"resource": 5}], [{"resource": {"id": "1"}}], [{"resource": {"resourceType": ""}}]],
)
def test_draft_order_entries_must_be_objects_holding_resources(entries: list[Any]) -> None:
    body = _context(draftOrders={"resourceType": "Bundle", "entry": entries})
    body["hook"] = "order-sign"
    assert "context.draftOrders:" in _refused(body, Hook.ORDER_SIGN)


def test_draft_order_entry_without_resource_is_tolerated() -> None:
    body = _context(draftOrders={"resourceType": "Bundle", "entry": [{"fullUrl": "urn:uuid:1"}]})
    body["hook"] = "order-sign"
    assert parse_hook_request(body, Hook.ORDER_SIGN).hook is Hook.ORDER_SIGN


# --- feedback -------------------------------------------------------------------------------------------------


def _feedback(**changes: Any) -> dict[str, Any]:
    item = {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2025-06-01T10:05:31Z", **changes}
    return {"feedback": [{k: v for k, v in item.items() if v is not ...}]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_feedback(card="c\x00"), "feedback.0.card"),
        (_feedback(card="c" * 257), "feedback.0.card"),
        (_feedback(overrideReason={"reason": {"system": "s" * 513, "code": "x"}}), "overrideReason.reason.system"),
        (_feedback(overrideReason={"reason": {"system": "s\x00", "code": "x"}}), "overrideReason.reason.system"),
        (_feedback(overrideReason={"reason": {"code": "x\x00"}}), "overrideReason.reason.code"),
        (_feedback(overrideReason={"userComment": "\x00"}), "overrideReason.userComment"),
        (_feedback(overrideReason={"userComment": "c" * 4001}), "overrideReason.userComment"),
        (_feedback(outcome="accepted", acceptedSuggestions=[{"id": "s\x00"}]), "acceptedSuggestions.0.id"),
        (_feedback(outcomeTimestamp="0"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="20250601"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="2025-06-01T10"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="2025-06-01T10:05:31"), "outcomeTimestamp"),  # no zone: not RFC 3339
        (_feedback(outcomeTimestamp="2025-06-01 10:05:31Z"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="2025-W01-1"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="2025-02-30"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="2025-06-01T24:00:00Z"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="2025-06-01T10:05:31+24:00"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="0000-02-30"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="2025-06-01T10:00:60Z"), "outcomeTimestamp"),  # a leap second is 23:59:60 UTC
        (_feedback(outcomeTimestamp="2016-12-31T23:59:60+01:00"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="2025-06-01T10:05:31Z\n"), "outcomeTimestamp"),
        (_feedback(outcomeTimestamp="２０２５-06-01"), "outcomeTimestamp"),  # fullwidth digits
    ],
)
def test_malformed_feedback_is_a_400_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequestError) as excinfo:
        parse_feedback(body)
    assert field in excinfo.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01T10:05:31Z", datetime(2025, 6, 1, 10, 5, 31, tzinfo=UTC)),
        ("2025-06-01t10:05:31z", datetime(2025, 6, 1, 10, 5, 31, tzinfo=UTC)),
        ("2025-06-01T12:05:31.1234567+02:00", datetime(2025, 6, 1, 10, 5, 31, 123456, tzinfo=UTC)),
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),  # leap second
        ("2017-01-01T00:59:60+01:00", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("0000-01-01", datetime.min.replace(tzinfo=UTC)),  # a valid RFC 3339 year, before datetime's range
        ("0000-02-29T10:00:00Z", datetime.min.replace(tzinfo=UTC)),
        ("2025-06-01", datetime(2025, 6, 1, tzinfo=UTC)),
        # Their UTC equivalent is outside datetime's range: astimezone raised OverflowError (was a 500).
        ("0001-01-01T00:00:00+01:00", datetime.min.replace(tzinfo=UTC)),
        ("9999-12-31T23:59:59-01:00", datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_rfc3339_timestamps_and_dates_are_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected
    assert parse_feedback(_feedback(outcomeTimestamp=text))[0].outcome_timestamp == expected
