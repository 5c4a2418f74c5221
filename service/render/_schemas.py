"""The shape of the card content files (``cards/*.yaml``), as marshmallow schemas.

Structure only: which keys a file and each of its sections may and must have, their types, plain-text labels,
https URLs and code styles. What depends on the recommendation's contract or on another file (placeholders,
notes, trigger roles, suggestions, evidence keys, override-reason codes) is checked by ``_library`` once a
file has loaded. A file's problems are reported together in one ``ContentError`` naming the file and each
field (``red-flags.yaml: source.url 'doi.org/x' must be an absolute https URL``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import Final
from urllib.parse import urlsplit

import yaml
from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from service import canonical
from service.errors import ContentError
from service.fhir.coding import CPT
from service.fhir.coding import HCPCS
from service.fhir.coding import LOINC
from service.fhir.coding import SNOMED
from service.pathway.gaps import AFFECTED as GAP_AFFECTED
from service.render._orders import ORDER_KEYS
from service.render._text import plain_text_problems
from service.validation import flatten_messages

__all__ = [
    "CARD",
    "CODESYSTEMS",
    "COMMON",
    "EVIDENCE",
    "load_content_file",
]

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_ORDER_SYSTEMS: Final = sorted({SNOMED, CPT, HCPCS, LOINC})

_SEMVER: Final = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$"
_CODE: Final = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_TITLE_MAX: Final = 90
#: An evidence link label names its year, or "current" for a living document (issue 15: evidence once).
_DATED_LABEL = re.compile(r"\b(?:19|20)\d\d\b|\bcurrent\b")
_REQUIRED: Final[dict[str, str | list[Any] | dict[Any, Any]]] = {"required": "is required", "null": "is required"}


# --- fields ----------------------------------------------------------------------------------------------


class _Text(fields.Field[str]):
    """A non-empty string, stripped; ``plain`` also refuses line breaks and markdown or HTML characters."""

    default_error_messages = {**_REQUIRED, "invalid": "must be a non-empty string"}

    def __init__(self, *, plain: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._plain = plain

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.make_error("invalid")
        text = value.strip()
        problems = plain_text_problems(text) if self._plain else []
        if problems:
            raise ValidationError("; ".join(problems))
        return text


class _HttpsUrl(_Text):
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        url = super()._deserialize(value, attr, data, **kwargs)
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc or " " in url:
            raise ValidationError(f"{url!r} must be an absolute https URL")
        return url


class _Flag(fields.Field[bool]):
    """``true`` or ``false`` only: marshmallow's Boolean would read ``"yes"`` or ``1`` as true."""

    default_error_messages = {**_REQUIRED, "invalid": "must be true or false"}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class _Keys(fields.Field[tuple[str, ...]]):
    """A non-empty list of keys defined in another file (``what``), in order."""

    default_error_messages = _REQUIRED

    def __init__(self, what: str, *, unique: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error_messages["invalid"] = f"must be a non-empty list of {what}"
        self._unique = unique

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(key, str) and key for key in value):
            raise self.make_error("invalid")
        if self._unique:
            for index, key in enumerate(value):
                if key in value[:index]:
                    raise ValidationError(f"lists {key!r} twice")
        return tuple(value)


class _Nested(fields.Nested):
    default_error_messages = {**_REQUIRED, "type": "must be a mapping"}


class _Mapping(fields.Dict):
    """A non-empty mapping from a name to ``values``."""

    default_error_messages = {**_REQUIRED, "invalid": "must be a non-empty mapping"}

    def __init__(self, values: fields.Field[Any], **kwargs: Any) -> None:
        kwargs.setdefault("validate", validate.Length(min=1, error="must be a non-empty mapping"))
        super().__init__(keys=_Text(), values=values, **kwargs)


def _labels(**kwargs: Any) -> _Mapping:
    return _Mapping(_Text(plain=True), **kwargs)


class _Note(fields.Field[tuple[str, str | None]]):
    """A note: its markdown paragraph, or ``{detail, summary}``; loaded as ``(detail, summary or None)``."""

    default_error_messages = _REQUIRED

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> tuple[str, str | None]:
        if isinstance(value, str):
            return _NOTE_TEXT.deserialize(value), None
        body = _NOTE_BODY.load(value)
        return body["detail"], body["summary"]


# --- schemas ---------------------------------------------------------------------------------------------


class _ContentSchema(Schema):
    """Every section of a content file: a key not declared is a typo and stops start-up."""

    class Meta:
        unknown = RAISE

    error_messages = {"type": "must be a mapping"}  # noqa: RUF012 - marshmallow's class-level hook

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        allowed = ", ".join(sorted(field.data_key or name for name, field in self.load_fields.items()))
        self.error_messages = {**self.error_messages, "unknown": f"is not a known key; allowed: {allowed}"}


class _NoteBodySchema(_ContentSchema):
    detail = _Text(required=True)
    summary = _Text(load_default=None)


_NOTE_BODY: Final = _NoteBodySchema()
_NOTE_TEXT: Final = _Text(required=True)


class _SourceSchema(_ContentSchema):
    label = _Text(plain=True, required=True)
    url = _HttpsUrl(required=True)


class _GradingSchema(_ContentSchema):
    strength = _Text(plain=True, load_default=None)
    quality = _Text(plain=True, load_default=None)
    source = _Text(required=True)

    @validates_schema
    def _strength_or_quality(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data.get("strength") is None and data.get("quality") is None:
            raise ValidationError("needs a strength and/or a quality (or omit it)")


class _SuggestionSchema(_ContentSchema):
    label = _Text(plain=True, required=True)
    recommended = _Flag(load_default=False)
    delete_description = _Text(load_default=None)


def _one_recommended(suggestions: Mapping[str, Mapping[str, Any]]) -> None:
    if sum(bool(entry["recommended"]) for entry in suggestions.values()) > 1:
        raise ValidationError(
            "may mark at most one suggestion recommended (selectionBehavior at-most-one, CDS Hooks cds-resp-1)"
        )


def _title_length(title: str) -> None:
    if len(title) > _TITLE_MAX:
        raise ValidationError(f"is {len(title)} characters; keep it under {_TITLE_MAX}")


class _CardSchema(_ContentSchema):
    """``cards/<recommendation-id>.yaml``."""

    id = _Text(required=True)
    title = _Text(plain=True, required=True, validate=_title_length)
    version = _Text(
        required=True,
        validate=validate.Regexp(_SEMVER, error="{input!r} must be semantic (MAJOR.MINOR.PATCH), e.g. 1.0.0"),
    )
    source = _Nested(_SourceSchema, required=True)
    summary = _Text(required=True)
    detail = _Text(required=True)
    notes = _Mapping(_Note(), load_default=None)
    roles = _labels(load_default=None)
    evidence = _Keys("keys from _evidence.yaml", unique=True, required=True)
    grading = _Nested(_GradingSchema, load_default=None)
    override_reasons = _Keys("codes from _codesystems.yaml", load_default=None)
    suggestions = _Mapping(
        _Nested(_SuggestionSchema),
        load_default=None,
        validate=[validate.Length(min=1, error="must be a non-empty mapping"), _one_recommended],
    )


def _system_url(url: str, why: str = "") -> _Text:
    """The ``url`` of a code system this service defines: fixed, ``why`` says what depends on it."""
    return _Text(required=True, validate=validate.Equal(url, error=f"must be {url}{why}"))


class _RecommendationSystemSchema(_ContentSchema):
    url = _system_url(
        canonical.RECOMMENDATION_SYSTEM,
        " (feedback, analytics and stored cards key on it; change service.render.RECOMMENDATION_SYSTEM and this "
        "file together)",
    )


def _concepts_unique(concepts: Iterable[Mapping[str, Any]]) -> None:
    codes = [concept["code"] for concept in concepts]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        raise ValidationError(f"defines override reason(s) {', '.join(map(repr, twice))} twice")


class _ConceptSchema(_ContentSchema):
    code = _Text(required=True, validate=validate.Regexp(_CODE, error="{input!r} must be lower-kebab-case"))
    display = _Text(
        plain=True,
        required=True,
        error_messages={
            "required": "is required: CDS Hooks 2.0 requires a display on every override reason",
            "null": "is required: CDS Hooks 2.0 requires a display on every override reason",
        },
    )
    definition = _Text(load_default=None)


class _OverrideReasonSystemSchema(_ContentSchema):
    url = _system_url(canonical.OVERRIDE_REASON_SYSTEM)
    concepts = fields.List(
        _Nested(_ConceptSchema),
        required=True,
        validate=[
            validate.Length(min=1, error="must be a non-empty list of {{code, display}}"),
            _concepts_unique,
        ],
        error_messages={**_REQUIRED, "invalid": "must be a non-empty list of {code, display}"},
    )


class _CodeSystemsSchema(_ContentSchema):
    """``cards/_codesystems.yaml``: the URLs are fixed, stored cards, feedback and analytics key on them."""

    recommendation = _Nested(_RecommendationSystemSchema, required=True)
    override_reason = _Nested(_OverrideReasonSystemSchema, data_key="override-reason", required=True)


def _dated(label: str) -> None:
    if not _DATED_LABEL.search(label):
        raise ValidationError(
            "must name the source and its year (e.g. 'Jull 2002, ... (Spine)'), or say 'current' for a living "
            "document such as a drug label: links are the card's only evidence list"
        )


class _EvidenceSchema(_ContentSchema):
    label = _Text(plain=True, required=True, validate=_dated)
    url = _HttpsUrl(required=True)
    citation = _Text(load_default=None)
    recalled = _Flag(load_default=False)


class _OrderSchema(_ContentSchema):
    """An order a suggestion creates (FHIR R4 ServiceRequest); ``_library`` also builds and validates a sample."""

    system = _Text(required=True, validate=validate.OneOf(_ORDER_SYSTEMS, error="{input!r} must be one of {choices}"))
    code = _Text(required=True)
    display = _Text(load_default=None)
    text = _Text(required=True)
    description = _Text(required=True)


_OrdersSchema = _ContentSchema.from_dict(
    {key: _Nested(_OrderSchema, required=True) for key in ORDER_KEYS}, name="_OrdersSchema"
)
#: One sentence per optional prefetch key (``service.pathway.gaps.AFFECTED``).
_DataGapsSchema = _ContentSchema.from_dict(
    {key: _Text(required=True) for key in sorted(GAP_AFFECTED)}, name="_DataGapsSchema"
)


class _CommonSchema(_ContentSchema):
    """``cards/_common.yaml``: content every card shares."""

    roles = _labels(required=True)
    blank_fact = _Text(plain=True, required=True)
    data_gaps = _Nested(_DataGapsSchema, required=True)
    orders = _Nested(_OrdersSchema, required=True)


CARD: Final = _CardSchema()
CODESYSTEMS: Final = _CodeSystemsSchema()
COMMON: Final = _CommonSchema()
#: ``cards/_evidence.yaml``: the citations by key.
EVIDENCE: Final = _Mapping(_Nested(_EvidenceSchema), error_messages={"invalid": "no evidence defined"})


# --- loading ---------------------------------------------------------------------------------------------


def load_content_file(file: Path, shape: Schema | fields.Field[Any]) -> Any:
    """The YAML mapping in ``file``, loaded through ``shape``.

    :raises ContentError: the file cannot be read, is not YAML, or does not have the shape; the message names
        the file and every field at fault.
    """
    try:
        # libyaml when available: the pure-Python parser costs ~0.5 s per app start for these files.
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        raise ContentError(f"{file}: not valid YAML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ContentError(f"{file}: cannot be read: {error}") from None
    if not isinstance(data, dict):
        raise ContentError(f"{file}: must hold a YAML mapping at the top level")
    try:
        return shape.load(data) if isinstance(shape, Schema) else shape.deserialize(data)
    except ValidationError as error:
        pairs = flatten_messages(error.messages)
        problems = "; ".join(message if where == "(file)" else f"{where} {message}" for where, message in pairs)
        raise ContentError(f"{file}: {problems}") from None
