"""Incoming CDS Hooks 2.0 messages: hook requests and feedback, as marshmallow schemas.

Lenient on input: unknown fields and ``extension`` are ignored, and the quirks of real clients are accepted
(the Sandbox's draftOrders Bundles without ``type``, override reasons without ``display``, date-only
``outcomeTimestamp``). Strict where we rely on a field: a missing or mistyped required field is a
``BadRequestError`` whose message names the field and says what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from marshmallow import EXCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from service.errors import BadRequestError
from service.protocol.enums import FeedbackOutcome
from service.protocol.enums import Hook

_ID_LENGTH = validate.Length(min=1, max=256)


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class FhirAuthorizationSchema(_Lenient):
    access_token = fields.String(required=True, validate=validate.Length(min=1))
    token_type = fields.String(load_default="Bearer")
    expires_in = fields.Integer(load_default=None)
    scope = fields.String(load_default=None)
    subject = fields.String(load_default=None)
    patient = fields.String(load_default=None)


class HookRequestSchema(_Lenient):
    hook = fields.String(required=True, validate=_ID_LENGTH)
    hookInstance = fields.String(required=True, validate=_ID_LENGTH)  # noqa: N815 (wire name)
    fhirServer = fields.String(load_default=None, allow_none=True)  # noqa: N815
    fhirAuthorization = fields.Nested(FhirAuthorizationSchema, load_default=None, allow_none=True)  # noqa: N815
    context = fields.Dict(keys=fields.String(), required=True)
    prefetch = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), load_default=None,
                           allow_none=True)

    @validates_schema
    def _authorization_needs_server(self, data: Mapping[str, Any], **_: Any) -> None:
        if data.get("fhirAuthorization") and not data.get("fhirServer"):
            raise ValidationError(
                "fhirAuthorization was sent without fhirServer; CDS Hooks 2.0 requires fhirServer whenever "
                "fhirAuthorization is present.",
                field_name="fhirServer",
            )
        server = data.get("fhirServer")
        if server is not None:
            parts = urlsplit(server)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ValidationError("must be an absolute http(s) URL, the base of your FHIR server.",
                                      field_name="fhirServer")


class _BaseContextSchema(_Lenient):
    userId = fields.String(required=True, validate=_ID_LENGTH)  # noqa: N815
    patientId = fields.String(required=True, validate=_ID_LENGTH)  # noqa: N815
    encounterId = fields.String(load_default=None, validate=_ID_LENGTH)  # noqa: N815


class PatientViewContextSchema(_BaseContextSchema):
    pass


class EncounterStartContextSchema(_BaseContextSchema):
    encounterId = fields.String(required=True, validate=_ID_LENGTH)  # noqa: N815


class _DraftOrdersField(fields.Dict):
    """``draftOrders``: a FHIR Bundle object (``type`` optional: the Sandbox and the 1.0.1 examples omit it)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)  # type: ignore[no-untyped-call]
        if result.get("resourceType") != "Bundle":
            raise ValidationError('must be a FHIR Bundle ({"resourceType": "Bundle", "entry": [...]}).')
        entries = result.get("entry", [])
        if not isinstance(entries, list):
            raise ValidationError("entry must be an array of {\"resource\": {...}} objects.")
        return result


class OrderSignContextSchema(_BaseContextSchema):
    draftOrders = _DraftOrdersField(required=True)  # noqa: N815


class OrderSelectContextSchema(OrderSignContextSchema):
    selections = fields.List(fields.String(validate=_ID_LENGTH), required=True)

    @validates_schema
    def _selections_are_drafted(self, data: Mapping[str, Any], **_: Any) -> None:
        drafted = _draft_refs(data["draftOrders"])
        missing = [ref for ref in data["selections"] if ref not in drafted]
        if missing:
            raise ValidationError(
                f"{len(missing)} selection(s) do not reference a resource in draftOrders; each selection "
                "must be 'Type/id' of an entry of context.draftOrders.",
                field_name="selections",
            )


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
    )


class CodingInSchema(_Lenient):
    system = fields.String(load_default=None)
    code = fields.String(required=True, validate=validate.Length(min=1, max=256))
    display = fields.String(load_default=None)


class OverrideReasonSchema(_Lenient):
    reason = fields.Nested(CodingInSchema, load_default=None)
    userComment = fields.String(load_default=None, validate=validate.Length(max=4000))  # noqa: N815


class AcceptedSuggestionSchema(_Lenient):
    id = fields.String(required=True, validate=_ID_LENGTH)


class _LenientTimestamp(fields.String):
    """RFC 3339 timestamp; real clients also send date-only values (HAPI's tests) or omit the zone."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValidationError("must be an ISO 8601 / RFC 3339 timestamp, e.g. 2025-06-01T10:05:31Z.") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


class FeedbackItemSchema(_Lenient):
    card = fields.String(required=True, validate=_ID_LENGTH)
    outcome = fields.Enum(FeedbackOutcome, by_value=True, required=True)
    acceptedSuggestions = fields.List(fields.Nested(AcceptedSuggestionSchema), load_default=list)  # noqa: N815
    overrideReason = fields.Nested(OverrideReasonSchema, load_default=None)  # noqa: N815
    outcomeTimestamp = _LenientTimestamp(required=True)  # noqa: N815

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
