"""Incoming CDS Hooks 2.0 messages: hook requests and feedback, as marshmallow schemas.

Lenient on input: unknown fields and the content of ``extension`` are ignored, and the quirks of real
clients are accepted (the Sandbox's draftOrders Bundles without ``type``, override reasons without
``display``, date-only ``outcomeTimestamp``, selections that name no draft order). Strict where we rely on a
field: a missing, mistyped or malformed field is a ``BadRequestError`` whose message names the field and says
what was expected. ``openapi.yaml`` states the same rules; the patterns below are written once, in the syntax
JSON Schema and Python share, and the contract tests check that the document uses exactly these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Final

from marshmallow import EXCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from service.errors import BadRequestError
from service.protocol.enums import FeedbackOutcome
from service.protocol.enums import Hook

#: ``fhirServer``: an absolute https URL (host name or IPv4 address), or plain http to a loopback host
#: (tests and local sandboxes); an optional port 1-65535 and a path; no credentials, query or fragment.
FHIR_SERVER_PATTERN: Final = (
    r"^(?:[Hh][Tt][Tt][Pp][Ss]://[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|[Hh][Tt][Tt][Pp][Ss]?://(?:[Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]"
    r"|127(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}|\[::1\]))"
    r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:/(?:[A-Za-z0-9._~!$&()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*$"
)
FHIR_SERVER_MAX_LENGTH: Final = 2048
#: A FHIR ``id`` (``Patient.id``, ``Encounter.id``): FHIR R4 §2.24.0.1 ``[A-Za-z0-9\-\.]{1,64}``.
FHIR_ID_PATTERN: Final = r"^[A-Za-z0-9.-]{1,64}$"
#: A relative FHIR reference ``Type/id`` (``context.userId``, ``context.selections``).
REFERENCE_PATTERN: Final = r"^[A-Z][A-Za-z]{0,63}/[A-Za-z0-9.-]{1,64}$"
#: Free text and opaque ids we store: anything but NUL, which PostgreSQL text cannot hold.
TEXT_PATTERN: Final = r"^[^\u0000]*$"
#: An OAuth 2.0 bearer token (RFC 6750 §2.1 ``b64token``): it is sent on as an HTTP header.
ACCESS_TOKEN_PATTERN: Final = r"^[A-Za-z0-9._~+/-]+=*$"
ACCESS_TOKEN_MAX_LENGTH: Final = 8192
#: Column sizes of the feedback table (``service.store.models.Feedback``).
SYSTEM_MAX_LENGTH: Final = 512
ID_MAX_LENGTH: Final = 256
COMMENT_MAX_LENGTH: Final = 4000


def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` read as JSON Schema reads it: ASCII classes, and ``$`` at the very end of the string."""
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern, re.ASCII)


class _Matches(validate.Validator):
    """The value matches one of the patterns above (JSON Schema ``pattern``), with a message that says how."""

    def __init__(self, pattern: str, error: str) -> None:
        self.regex = ecma_pattern(pattern)
        self.message = error

    def __call__(self, value: Any) -> Any:
        if not self.regex.search(value):
            raise ValidationError(self.message)
        return value


_ID_LENGTH = validate.Length(min=1, max=ID_MAX_LENGTH)
_NO_NUL = _Matches(TEXT_PATTERN, "must not contain NUL (\\u0000) characters.")
_TEXT_ID = validate.And(_ID_LENGTH, _NO_NUL)
_FHIR_ID = _Matches(FHIR_ID_PATTERN, "must be a FHIR id: 1-64 of A-Z a-z 0-9 - . (without the 'Type/' prefix).")
_REFERENCE = _Matches(REFERENCE_PATTERN, "must be a FHIR reference 'Type/id', e.g. Practitioner/123.")
_FHIR_SERVER = validate.And(
    validate.Length(max=FHIR_SERVER_MAX_LENGTH),
    _Matches(
        FHIR_SERVER_PATTERN,
        "must be the base URL of your FHIR server: https://host[:port][/path] (plain http only for localhost, "
        "127.x.x.x or [::1]), without credentials, query, fragment or spaces, e.g. https://ehr.example.org/fhir.",
    ),
)


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class _JsonInteger(fields.Integer):
    """A JSON Schema ``integer``: an int, or a number with no fractional part (``300.0``); never a bool or a
    string (marshmallow's own Integer reads ``"300"``, which the contract refuses)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be an integer.")
        return value


class FhirAuthorizationSchema(_Lenient):
    access_token = fields.String(
        required=True,
        validate=validate.And(
            validate.Length(min=1, max=ACCESS_TOKEN_MAX_LENGTH),
            _Matches(ACCESS_TOKEN_PATTERN, "must be an OAuth 2.0 bearer token (RFC 6750 b64token characters)."),
        ),
    )
    token_type = fields.String(load_default="Bearer")
    expires_in = _JsonInteger(load_default=None)
    scope = fields.String(load_default=None)
    subject = fields.String(load_default=None)
    patient = fields.String(load_default=None)


class _PrefetchValue(fields.Raw):
    """A prefetch value: a JSON object (the service fetches it again when it is no usable FHIR resource) or null."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("must be what the prefetch query returned (a FHIR resource or Bundle) or null.")
        return value


class HookRequestSchema(_Lenient):
    hook = fields.String(required=True, validate=_ID_LENGTH)
    hookInstance = fields.String(required=True, validate=_TEXT_ID)  # noqa: N815 (wire name)
    fhirServer = fields.String(load_default=None, allow_none=True, validate=_FHIR_SERVER)  # noqa: N815
    fhirAuthorization = fields.Nested(FhirAuthorizationSchema, load_default=None, allow_none=True)  # noqa: N815
    context = fields.Dict(keys=fields.String(), required=True)
    prefetch = fields.Dict(keys=fields.String(), values=_PrefetchValue(allow_none=True), load_default=None,
                           allow_none=True)
    # Its content is ignored, but CDS Hooks 2.0 §extensions makes it an object.
    extension = fields.Dict(keys=fields.String(), load_default=None, allow_none=False)

    @validates_schema
    def _authorization_needs_server(self, data: Mapping[str, Any], **_: Any) -> None:
        if data.get("fhirAuthorization") and not data.get("fhirServer"):
            raise ValidationError(
                "fhirAuthorization was sent without fhirServer; CDS Hooks 2.0 requires fhirServer whenever "
                "fhirAuthorization is present.",
                field_name="fhirServer",
            )


class _BaseContextSchema(_Lenient):
    userId = fields.String(required=True, validate=_REFERENCE)  # noqa: N815
    patientId = fields.String(required=True, validate=_FHIR_ID)  # noqa: N815
    encounterId = fields.String(load_default=None, validate=_FHIR_ID)  # noqa: N815


class PatientViewContextSchema(_BaseContextSchema):
    pass


class EncounterStartContextSchema(_BaseContextSchema):
    encounterId = fields.String(required=True, validate=_FHIR_ID)  # noqa: N815


class _DraftOrdersField(fields.Dict):
    """``draftOrders``: a FHIR Bundle object (``type`` optional: the Sandbox and the 1.0.1 examples omit it)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)  # type: ignore[no-untyped-call]
        if result.get("resourceType") != "Bundle":
            raise ValidationError('must be a FHIR Bundle ({"resourceType": "Bundle", "entry": [...]}).')
        entries = result.get("entry", [])
        if not isinstance(entries, list):
            raise ValidationError("entry must be an array of {\"resource\": {...}} objects.")
        for index, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or ("resource" in entry and not _is_resource(resource)):
                raise ValidationError(
                    f"entry[{index}] must be an object whose resource, when present, is a FHIR resource "
                    '({"resourceType": "...", ...}).'
                )
        return result


def _is_resource(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("resourceType"), str) and bool(value["resourceType"])


class OrderSignContextSchema(_BaseContextSchema):
    draftOrders = _DraftOrdersField(required=True)  # noqa: N815


class OrderSelectContextSchema(OrderSignContextSchema):
    # A selection naming no draft order selects nothing; it is noted in the response, not refused (the
    # contract cannot state that cross-reference, so the service does not enforce it either).
    selections = fields.List(fields.String(validate=_REFERENCE), required=True)


CONTEXT_SCHEMAS: dict[Hook, type[Schema]] = {
    Hook.PATIENT_VIEW: PatientViewContextSchema,
    Hook.ENCOUNTER_START: EncounterStartContextSchema,
    Hook.ORDER_SELECT: OrderSelectContextSchema,
    Hook.ORDER_SIGN: OrderSignContextSchema,
}
_CONTEXT_SCHEMA_INSTANCES = {hook: schema() for hook, schema in CONTEXT_SCHEMAS.items()}
_REQUEST_SCHEMA = HookRequestSchema()


def _draft_refs(bundle: Mapping[str, Any]) -> set[str]:
    refs: set[str] = set()
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if isinstance(resource, Mapping):
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                refs.add(f"{rtype}/{rid}")
    return refs


@dataclass(frozen=True, slots=True)
class HookRequest:
    """A validated hook invocation. ``access_token`` is transient and never appears in ``repr``."""

    hook: Hook
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any] | None
    fhir_server: str | None
    access_token: str | None
    #: What was tolerated in the request (no patient data), for the response's data notes.
    notes: tuple[str, ...] = ()

    @property
    def patient_id(self) -> str:
        return str(self.context["patientId"])

    def __repr__(self) -> str:
        return f"HookRequest(hook={self.hook.value!r}, hook_instance={self.hook_instance!r})"


def parse_hook_request(payload: Any, expected_hook: Hook) -> HookRequest:
    """Validate a decoded request body for a service answering ``expected_hook``.

    :raises BadRequestError: with a message naming each offending field.
    """
    if not isinstance(payload, dict):
        raise BadRequestError("The request body must be a JSON object with hook, hookInstance and context.")
    try:
        data = _REQUEST_SCHEMA.load(payload)
    except ValidationError as exc:
        raise BadRequestError(_describe(exc.messages)) from None
    if data["hook"] != expected_hook.value:
        raise BadRequestError(
            f"hook is {data['hook']!r} but this service answers {expected_hook.value!r}; call the service "
            "registered for that hook (see GET /cds-services).",
            code="wrong-hook",
        )
    try:
        context = _CONTEXT_SCHEMA_INSTANCES[expected_hook].load(data["context"])
    except ValidationError as exc:
        raise BadRequestError(_describe(exc.messages, prefix="context.")) from None
    # Keep unknown context fields out of the way but preserve what the data layer reads.
    merged = {**{k: v for k, v in data["context"].items() if k not in context}, **context}
    authorization = data.get("fhirAuthorization") or {}
    return HookRequest(
        hook=expected_hook,
        hook_instance=data["hookInstance"],
        context=merged,
        prefetch=data.get("prefetch"),
        fhir_server=data.get("fhirServer"),
        access_token=authorization.get("access_token"),
        notes=_selection_notes(context),
    )


def _selection_notes(context: Mapping[str, Any]) -> tuple[str, ...]:
    if "selections" not in context:
        return ()
    drafted = _draft_refs(context["draftOrders"])
    missing = sum(1 for ref in context["selections"] if ref not in drafted)
    if not missing:
        return ()
    return (f"context.selections: {missing} selection(s) name no entry of context.draftOrders and select nothing",)


class CodingInSchema(_Lenient):
    system = fields.String(load_default=None, validate=validate.And(validate.Length(max=SYSTEM_MAX_LENGTH), _NO_NUL))
    code = fields.String(required=True, validate=_TEXT_ID)
    display = fields.String(load_default=None)


class OverrideReasonSchema(_Lenient):
    reason = fields.Nested(CodingInSchema, load_default=None)
    userComment = fields.String(  # noqa: N815
        load_default=None, validate=validate.And(validate.Length(max=COMMENT_MAX_LENGTH), _NO_NUL)
    )


class AcceptedSuggestionSchema(_Lenient):
    id = fields.String(required=True, validate=_TEXT_ID)


_TIMESTAMP = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt](?P<time>[0-9]{2}:[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:[0-9]{2}))?",
    re.ASCII,
)


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 ``date-time`` (with its zone) or ``full-date`` (midnight UTC), as an aware UTC datetime.

    These are JSON Schema's ``date-time`` and ``date`` formats, which the contract names, read as schemathesis'
    validator reads them: a leap second is valid at 23:59:60 UTC only (read as 23:59:59), and year 0000 is a
    valid year. Times outside what ``datetime`` holds (year 0000, or 0001-01-01T00:00+01:00) are clamped to
    its range: they are accepted as the contract says, and are nonsense either way.

    :raises ValueError: any other text, or a date or time that does not exist (``2025-02-30``, ``24:00``).
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(text)
    if match["date"].startswith("0000-"):
        datetime.fromisoformat("0004" + match["date"][4:])  # the month and day must still exist (0000 is leap)
        return datetime.min.replace(tzinfo=UTC)
    if match["time"] is None:
        return datetime.fromisoformat(match["date"]).replace(tzinfo=UTC)
    leap = match["second"] == "60"
    second = 59 if leap else int(match["second"])
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    zone = "+00:00" if match["zone"] in ("Z", "z") else match["zone"]
    parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}:{second:02d}.{fraction}{zone}")
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00
        utc = (datetime.min if parsed.year == 1 else datetime.max).replace(tzinfo=UTC)
    if leap and (utc.hour, utc.minute) != (23, 59):
        raise ValueError(text)
    return utc


class _Timestamp(fields.String):
    """``outcomeTimestamp``: RFC 3339; real clients also send a date alone (HAPI's tests)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_timestamp(text)
        except ValueError:
            raise ValidationError(
                "must be an RFC 3339 date-time with its zone, e.g. 2025-06-01T10:05:31Z, or a date, e.g. 2025-06-01."
            ) from None


class FeedbackItemSchema(_Lenient):
    card = fields.String(required=True, validate=_TEXT_ID)
    outcome = fields.Enum(FeedbackOutcome, by_value=True, required=True)
    acceptedSuggestions = fields.List(fields.Nested(AcceptedSuggestionSchema), load_default=list)  # noqa: N815
    overrideReason = fields.Nested(OverrideReasonSchema, load_default=None)  # noqa: N815
    outcomeTimestamp = _Timestamp(required=True)  # noqa: N815

    @validates_schema
    def _outcome_fields(self, data: Mapping[str, Any], **_: Any) -> None:
        if data["outcome"] is FeedbackOutcome.ACCEPTED and not data["acceptedSuggestions"]:
            raise ValidationError("is required when outcome is 'accepted': list the accepted suggestion uuids "
                                  'as [{"id": "<suggestion uuid>"}].', field_name="acceptedSuggestions")


class FeedbackRequestSchema(_Lenient):
    feedback = fields.List(fields.Nested(FeedbackItemSchema), required=True,
                           validate=validate.Length(min=1, max=500))


_FEEDBACK_SCHEMA = FeedbackRequestSchema()


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    card: str
    outcome: FeedbackOutcome
    accepted_suggestions: tuple[str, ...]
    override_system: str | None
    override_code: str | None
    user_comment: str | None
    outcome_timestamp: datetime


def parse_feedback(payload: Any) -> list[FeedbackItem]:
    """Validate a feedback body ``{"feedback": [...]}``.

    :raises BadRequestError: naming the item and field that is wrong.
    """
    if not isinstance(payload, dict):
        raise BadRequestError('The feedback body must be a JSON object: {"feedback": [ ... ]}.')
    try:
        data = _FEEDBACK_SCHEMA.load(payload)
    except ValidationError as exc:
        raise BadRequestError(_describe(exc.messages)) from None
    items = []
    for raw in data["feedback"]:
        override = raw.get("overrideReason") or {}
        reason = override.get("reason") or {}
        items.append(
            FeedbackItem(
                card=raw["card"],
                outcome=raw["outcome"],
                accepted_suggestions=tuple(s["id"] for s in raw["acceptedSuggestions"]),
                override_system=reason.get("system"),
                override_code=reason.get("code"),
                user_comment=override.get("userComment"),
                outcome_timestamp=raw["outcomeTimestamp"],
            )
        )
    return items


def _describe(messages: Any, prefix: str = "") -> str:
    """Flatten marshmallow's nested error dict into one sentence per field: 'context.patientId: ...'."""
    parts: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                key_text = "" if key == "_schema" else str(key)
                walk(value, f"{path}.{key_text}" if path and key_text else (path or key_text))
        elif isinstance(node, list):
            if all(isinstance(item, str) for item in node):
                text = " ".join(_friendly(item) for item in node)
                parts.append(f"{prefix}{path}: {text}" if path else text)
            else:
                for item in node:
                    walk(item, path)
        else:
            parts.append(f"{prefix}{path}: {node}")

    walk(messages, "")
    return "Invalid request: " + "; ".join(sorted(parts)) if parts else "Invalid request."


def _friendly(message: str) -> str:
    if message == "Missing data for required field.":
        return "is required but missing."
    if message == "Not a valid string.":
        return "must be a string."
    if message == "Not a valid mapping type.":
        return "must be a JSON object."
    if message == "Not a valid list.":
        return "must be an array."
    if message == "Field may not be null.":
        return "must not be null."
    return message
