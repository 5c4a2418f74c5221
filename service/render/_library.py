"""Load and validate the card content in ``cards/`` once, at start-up, into an immutable ``CardLibrary``.

Everything that can be checked without a patient is checked here, so a broken card stops the service (and
``cgh-cds check``) instead of producing a bad card at 3 a.m.: one file per recommendation id, placeholders
limited to the catalogue facts of that id, text for every catalogue note, labels for every trigger role and
suggestion, summaries that fit the 139-character budget, resolvable evidence and override-reason codes,
absolute https URLs, no raw HTML. Errors are ``ContentError`` naming the file, the field and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from typing import Final
from urllib.parse import quote
from urllib.parse import urlsplit

import yaml

from service import canonical
from service.errors import ContentError
from service.fhir.coding import CPT
from service.fhir.coding import HCPCS
from service.fhir.coding import LOINC
from service.fhir.coding import SNOMED
from service.pathway.advice import RecommendationId
from service.pathway.gaps import AFFECTED as GAP_AFFECTED
from service.render._contract import CONTRACTS
from service.render._contract import CardContract
from service.render._contract import contract_suggestion_keys
from service.render._orders import OrderTemplate
from service.render._orders import validated_service_request
from service.render._text import SUMMARY_FIELD_ROOM
from service.render._text import SUMMARY_MAX
from service.render._text import Template
from service.render._text import TemplateError
from service.render._text import compile_template
from service.render._text import markup_problems
from service.render._text import plain_text_problems
from service.render._text import unwrap

_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Base of every canonical URL the service mints (service.canonical holds them all).
FHIR_BASE_URL: Final = canonical.BASE
#: ``card.source.topic.system``: code = recommendation id, display = card title.
RECOMMENDATION_SYSTEM: Final = canonical.RECOMMENDATION_SYSTEM
#: ``card.overrideReasons[].system``.
OVERRIDE_REASON_SYSTEM: Final = canonical.OVERRIDE_REASON_SYSTEM

#: The orders a suggestion can create, by the key ``cards/_common.yaml`` defines them under.
PT_REFERRAL: Final = "pt-referral"
GON_BLOCK: Final = "gon-block"
_ORDER_KEYS: Final = (PT_REFERRAL, GON_BLOCK)
_ORDER_SYSTEMS: Final = frozenset({SNOMED, CPT, HCPCS, LOINC})

CODESYSTEMS_FILE: Final = "_codesystems.yaml"
EVIDENCE_FILE: Final = "_evidence.yaml"
COMMON_FILE: Final = "_common.yaml"

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_REQUIRED_CARD_KEYS: Final = ("id", "title", "version", "source", "summary", "detail", "evidence")
_CARD_KEYS: Final = frozenset({*_REQUIRED_CARD_KEYS, "notes", "roles", "grading", "override_reasons", "suggestions"})
_TITLE_MAX: Final = 90
#: An evidence link label names its year, or "current" for a living document (issue 15: evidence once).
_DATED_LABEL = re.compile(r"\b(?:19|20)\d\d\b|\bcurrent\b")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One citation a card links to (``cards/_evidence.yaml``)."""

    key: str
    label: str
    url: str
    #: True for citations marked (r) in ``docs/clinical/reference.md`` §3: recalled, still to be checked.
    recalled: bool = False


@dataclass(frozen=True, slots=True)
class Note:
    """An optional paragraph; ``summary``, when given, replaces the card summary while the note applies."""

    name: str
    detail: Template
    summary: Template | None = None


@dataclass(frozen=True, slots=True)
class SuggestionContent:
    key: str
    label: str
    recommended: bool
    #: Wording of each delete action (the order's name is appended); only for suggestions that delete.
    delete_description: str | None = None


@dataclass(frozen=True, slots=True)
class CardContent:
    """One recommendation's card, validated and with its static parts prebuilt."""

    recommendation: RecommendationId
    title: str
    version: str
    source_label: str
    source_url: str
    summary: Template
    detail: Template
    notes: Mapping[str, Note]
    roles: Mapping[str, str]
    evidence: tuple[Evidence, ...]
    grading: str | None
    override_reasons: tuple[tuple[str, str], ...]
    suggestions: Mapping[str, SuggestionContent]
    #: The "Evidence" section of the detail, prebuilt (it does not depend on the patient).
    evidence_markdown: str


@dataclass(frozen=True, slots=True)
class CardLibrary:
    """All card content, keyed by recommendation id; build it with :func:`load_card_library`."""

    cards: Mapping[RecommendationId, CardContent]
    orders: Mapping[str, OrderTemplate]
    override_reasons: Mapping[str, str]
    #: Shown in place of a fact the rule supplied blank (``cards/_common.yaml`` ``blank_fact``).
    blank_fact: str = "not recorded"
    #: Per optional prefetch key, what a card says when that key could not be read (``_common.yaml``
    #: ``data_gaps``; issue 16).
    data_gaps: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    recommendation_system: str = RECOMMENDATION_SYSTEM
    override_reason_system: str = OVERRIDE_REASON_SYSTEM

    def __len__(self) -> int:
        """Number of recommendations with content (every ``RecommendationId`` once loaded)."""
        return len(self.cards)

    def card(self, recommendation: RecommendationId) -> CardContent:
        return self.cards[recommendation]

    def override_reason_display(self, code: str) -> str | None:
        """Display of one of our override-reason codes (feedback analytics), ``None`` if unknown."""
        return self.override_reasons.get(code)

    @property
    def recalled_citations(self) -> tuple[Evidence, ...]:
        """Citations still marked recalled: governance must verify these before production."""
        seen = {ev.key: ev for card in self.cards.values() for ev in card.evidence if ev.recalled}
        return tuple(seen.values())


def load_card_library(path: Path) -> CardLibrary:
    """Read and validate every file in the card folder ``path`` (see ``cards/README.md`` for the format).

    :raises ContentError: on the first problem found, naming the file, the field and how to fix it.
    """
    if not path.is_dir():
        raise ContentError(f"card folder {path} does not exist; point the service at the repository's cards/")
    expected = {rec.value for rec in RecommendationId}
    shared = {CODESYSTEMS_FILE, EVIDENCE_FILE, COMMON_FILE}
    present = {entry.name for entry in path.glob("*.yaml")}
    unknown = sorted(name for name in present - shared if name.removesuffix(".yaml") not in expected)
    if unknown:
        raise ContentError(
            f"{path}: unexpected card file(s) {', '.join(unknown)}: card files are named "
            "<recommendation-id>.yaml with an id from docs/clinical/recommendations.md"
        )
    missing = sorted(f"{rec}.yaml" for rec in expected if f"{rec}.yaml" not in present)
    missing += sorted(name for name in shared if name not in present)
    if missing:
        raise ContentError(
            f"{path}: missing content file(s) {', '.join(missing)}; every recommendation id needs one"
        )

    reasons = _load_codesystems(path / CODESYSTEMS_FILE)
    evidence = _load_evidence(path / EVIDENCE_FILE)
    common_roles, orders, blank_fact, data_gaps = _load_common(path / COMMON_FILE)
    cards = {
        rec: _load_card(path / f"{rec.value}.yaml", rec, evidence, reasons, common_roles)
        for rec in CONTRACTS
    }
    return CardLibrary(
        cards=MappingProxyType(cards),
        orders=MappingProxyType(orders),
        override_reasons=MappingProxyType(reasons),
        blank_fact=blank_fact,
        data_gaps=MappingProxyType(data_gaps),
    )


# --- shared files ---------------------------------------------------------------------------------------


def _load_codesystems(file: Path) -> dict[str, str]:
    data = _read_mapping(file)
    _only_keys(file, "", data, {"recommendation", "override-reason"})
    rec = _mapping(file, "recommendation", data.get("recommendation"))
    if rec.get("url") != RECOMMENDATION_SYSTEM:
        raise ContentError(
            f"{file}: recommendation.url must be {RECOMMENDATION_SYSTEM} (feedback, analytics and "
            "stored cards key on it; change service.render.RECOMMENDATION_SYSTEM and this file together)"
        )
    reason_system = _mapping(file, "override-reason", data.get("override-reason"))
    if reason_system.get("url") != OVERRIDE_REASON_SYSTEM:
        raise ContentError(f"{file}: override-reason.url must be {OVERRIDE_REASON_SYSTEM}")
    concepts = reason_system.get("concepts")
    if not isinstance(concepts, list) or not concepts:
        raise ContentError(f"{file}: override-reason.concepts must be a non-empty list of {{code, display}}")
    reasons: dict[str, str] = {}
    for index, concept in enumerate(concepts):
        where = f"override-reason.concepts[{index}]"
        entry = _mapping(file, where, concept)
        _only_keys(file, where, entry, {"code", "display", "definition"})
        code = _text(file, f"{where}.code", entry.get("code"))
        if not _CODE.match(code):
            raise ContentError(f"{file}: {where}.code {code!r} must be lower-kebab-case")
        display = entry.get("display")
        if not isinstance(display, str) or not display.strip():
            raise ContentError(
                f"{file}: override reason {code!r} has no display; CDS Hooks 2.0 requires a display on every "
                "override reason"
            )
        _plain(file, f"{where}.display", display)
        if code in reasons:
            raise ContentError(f"{file}: override reason {code!r} is defined twice")
        reasons[code] = display.strip()
    return reasons


def _load_evidence(file: Path) -> dict[str, Evidence]:
    data = _read_mapping(file)
    evidence: dict[str, Evidence] = {}
    for key, raw in data.items():
        where = str(key)
        entry = _mapping(file, where, raw)
        _only_keys(file, where, entry, {"label", "url", "citation", "recalled"})
        label = _text(file, f"{where}.label", entry.get("label"))
        _plain(file, f"{where}.label", label)
        if not _DATED_LABEL.search(label):
            raise ContentError(
                f"{file}: {where}.label must name the source and its year (e.g. 'Jull 2002, ... (Spine)'), or say "
                "'current' for a living document such as a drug label: links are the card's only evidence list"
            )
        url = _url(file, f"{where}.url", entry.get("url"))
        recalled = entry.get("recalled", False)
        if not isinstance(recalled, bool):
            raise ContentError(f"{file}: {where}.recalled must be true or false")
        evidence[where] = Evidence(where, label, url, recalled)
    if not evidence:
        raise ContentError(f"{file}: no evidence defined")
    return evidence


def _load_common(file: Path) -> tuple[dict[str, str], dict[str, OrderTemplate], str, dict[str, str]]:
    data = _read_mapping(file)
    _only_keys(file, "", data, {"roles", "orders", "blank_fact", "data_gaps"})
    roles = _labels(file, "roles", data.get("roles"))
    blank_fact = _text(file, "blank_fact", data.get("blank_fact"))
    _plain(file, "blank_fact", blank_fact)
    gaps_raw = _mapping(file, "data_gaps", data.get("data_gaps"))
    _only_keys(file, "data_gaps", gaps_raw, set(GAP_AFFECTED))
    data_gaps = {key: _text(file, f"data_gaps.{key}", gaps_raw.get(key)) for key in sorted(GAP_AFFECTED)}
    orders_raw = _mapping(file, "orders", data.get("orders"))
    _only_keys(file, "orders", orders_raw, set(_ORDER_KEYS))
    orders: dict[str, OrderTemplate] = {}
    for key in _ORDER_KEYS:
        where = f"orders.{key}"
        entry = _mapping(file, where, orders_raw.get(key))
        _only_keys(file, where, entry, {"system", "code", "display", "text", "description"})
        system = _text(file, f"{where}.system", entry.get("system"))
        if system not in _ORDER_SYSTEMS:
            raise ContentError(f"{file}: {where}.system {system!r} must be one of {sorted(_ORDER_SYSTEMS)}")
        display = entry.get("display")
        if display is not None:
            display = _text(file, f"{where}.display", display)
        order = OrderTemplate(
            key=key,
            system=system,
            code=_text(file, f"{where}.code", entry.get("code")),
            display=display,
            text=_text(file, f"{where}.text", entry.get("text")),
            description=_text(file, f"{where}.description", entry.get("description")),
        )
        _check_order(file, where, order)
        orders[key] = order
    return roles, orders, blank_fact, data_gaps


def _check_order(file: Path, where: str, order: OrderTemplate) -> None:
    """Build a sample of the order and validate it with fhir.resources, so a bad code fails at start-up."""
    try:
        validated_service_request(order, "Patient/example", "Condition/example")
    except ValueError as error:
        raise ContentError(f"{file}: {where} does not make a valid FHIR R4 ServiceRequest: {error}") from None


# --- card files -----------------------------------------------------------------------------------------


def _load_card(
    file: Path,
    rec: RecommendationId,
    evidence: Mapping[str, Evidence],
    reasons: Mapping[str, str],
    common_roles: Mapping[str, str],
) -> CardContent:
    contract = CONTRACTS[rec]
    data = _read_mapping(file)
    unknown = sorted(set(map(str, data)) - _CARD_KEYS)
    if unknown:
        raise ContentError(
            f"{file}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_CARD_KEYS))}"
        )
    for key in _REQUIRED_CARD_KEYS:
        if data.get(key) in (None, "", [], {}):
            raise ContentError(f"{file}: '{key}' is required")
    if data["id"] != rec.value:
        raise ContentError(f"{file}: id {data['id']!r} must equal the file name ({rec.value!r})")
    title = _text(file, "title", data["title"])
    _plain(file, "title", title)
    if len(title) > _TITLE_MAX:
        raise ContentError(f"{file}: title is {len(title)} characters; keep it under {_TITLE_MAX}")
    version = str(data["version"])
    if not _SEMVER.match(version):
        raise ContentError(f"{file}: version {version!r} must be semantic (MAJOR.MINOR.PATCH), e.g. 1.0.0")
    source = _mapping(file, "source", data["source"])
    _only_keys(file, "source", source, {"label", "url"})
    source_label = _text(file, "source.label", source.get("label"))
    _plain(file, "source.label", source_label)
    source_url = _url(file, "source.url", source.get("url"))

    facts = frozenset(contract.facts)
    summary = _summary(file, "summary", data["summary"], facts, rec)
    detail = _detail(file, "detail", data["detail"], facts, rec)
    notes = _notes(file, data.get("notes"), contract, rec)
    roles = _roles(file, data.get("roles"), contract, common_roles)
    cited = _evidence(file, data["evidence"], evidence)
    grading = _grading(file, data.get("grading"), evidence)
    override = _override_reasons(file, data.get("override_reasons"), reasons)
    suggestions = _suggestions(file, data.get("suggestions"), contract)
    return CardContent(
        recommendation=rec,
        title=title,
        version=version,
        source_label=source_label,
        source_url=source_url,
        summary=summary,
        detail=detail,
        notes=MappingProxyType(notes),
        roles=MappingProxyType(roles),
        evidence=cited,
        grading=grading,
        override_reasons=override,
        suggestions=MappingProxyType(suggestions),
        evidence_markdown=_evidence_markdown(cited, grading),
    )


def _summary(file: Path, where: str, raw: Any, facts: frozenset[str], rec: RecommendationId) -> Template:
    text = _text(file, where, raw)
    template = _template(file, where, text, facts, rec)
    for literal in template.literals:
        _plain(file, where, literal)
    budget = SUMMARY_MAX - SUMMARY_FIELD_ROOM * len(template.fields)
    if template.static_length > budget:
        raise ContentError(
            f"{file}: {where} is too long: {template.static_length} characters of fixed text with "
            f"{len(template.fields)} placeholder(s); the limit is {budget} (139 minus {SUMMARY_FIELD_ROOM} "
            "per placeholder, so patient facts still fit). Shorten the sentence."
        )
    return template


def _detail(file: Path, where: str, raw: Any, facts: frozenset[str], rec: RecommendationId) -> Template:
    text = unwrap(_text(file, where, raw))
    problems = markup_problems(text)
    if problems:
        raise ContentError(f"{file}: {where}: {'; '.join(problems)} (detail is GitHub-flavoured markdown)")
    return _template(file, where, text, facts, rec)


def _template(file: Path, where: str, text: str, facts: frozenset[str], rec: RecommendationId) -> Template:
    try:
        template = compile_template(text)
    except TemplateError as error:
        raise ContentError(f"{file}: {where}: {error}") from None
    for name in template.fields:
        if name not in facts:
            allowed = ", ".join(sorted(facts)) or "none"
            raise ContentError(
                f"{file}: {where} uses unknown placeholder {{{name}}}: {rec.value} facts are {allowed} "
                "(service/pathway/CATALOGUE.md)"
            )
    return template


def _notes(file: Path, raw: Any, contract: CardContract, rec: RecommendationId) -> dict[str, Note]:
    entries = {} if raw is None else _mapping(file, "notes", raw)
    missing = [name for name in contract.notes if name not in entries]
    if missing:
        raise ContentError(
            f"{file}: missing text for note(s) {', '.join(missing)}; the rule for {rec.value} may add them "
            "(service/pathway/CATALOGUE.md), so each needs a paragraph under 'notes'"
        )
    extra = sorted(str(name) for name in entries if name not in contract.notes)
    if extra:
        allowed = ", ".join(contract.notes) or "none"
        raise ContentError(f"{file}: unknown note(s) {', '.join(extra)}; notes of {rec.value}: {allowed}")
    notes: dict[str, Note] = {}
    for name in contract.notes:
        where = f"notes.{name}"
        facts = frozenset((*contract.facts, *contract.note_facts.get(name, ())))
        entry = entries[name]
        if isinstance(entry, str):
            notes[name] = Note(name, _detail(file, where, entry, facts, rec))
            continue
        body = _mapping(file, where, entry)
        _only_keys(file, where, body, {"detail", "summary"})
        summary = body.get("summary")
        notes[name] = Note(
            name,
            _detail(file, f"{where}.detail", body.get("detail"), facts, rec),
            None if summary is None else _summary(file, f"{where}.summary", summary, facts, rec),
        )
    return notes


def _roles(file: Path, raw: Any, contract: CardContract, common: Mapping[str, str]) -> dict[str, str]:
    own = {} if raw is None else _labels(file, "roles", raw)
    roles = {**common, **own}
    missing = [role for role in contract.all_roles if role not in roles]
    if missing:
        raise ContentError(
            f"{file}: no label for trigger role(s) {', '.join(missing)}; add them under 'roles' "
            f"(or under 'roles' in {COMMON_FILE} for roles every card receives)"
        )
    extra = sorted(role for role in own if role not in contract.all_roles)
    if extra:
        raise ContentError(
            f"{file}: unknown trigger role(s) {', '.join(extra)}; "
            f"roles of this card: {', '.join(contract.all_roles)}"
        )
    return {role: roles[role] for role in contract.all_roles}


def _evidence(file: Path, raw: Any, evidence: Mapping[str, Evidence]) -> tuple[Evidence, ...]:
    if not isinstance(raw, list) or not all(isinstance(key, str) for key in raw):
        raise ContentError(f"{file}: evidence must be a list of keys from {EVIDENCE_FILE}")
    unknown = [key for key in raw if key not in evidence]
    if unknown:
        raise ContentError(f"{file}: evidence {', '.join(unknown)} not defined in {EVIDENCE_FILE}")
    if len(set(raw)) != len(raw):
        raise ContentError(f"{file}: evidence lists a citation twice")
    return tuple(evidence[key] for key in raw)


def _grading(file: Path, raw: Any, evidence: Mapping[str, Evidence]) -> str | None:
    if raw is None:
        return None
    entry = _mapping(file, "grading", raw)
    _only_keys(file, "grading", entry, {"strength", "quality", "source"})
    parts = []
    for key, label in (("strength", "Strength of recommendation"), ("quality", "Quality of evidence")):
        if key in entry:
            value = _text(file, f"grading.{key}", entry[key])
            _plain(file, f"grading.{key}", value)
            parts.append(f"{label}: {value}")
    if not parts:
        raise ContentError(f"{file}: grading needs a strength and/or a quality (or omit it)")
    source = _text(file, "grading.source", entry.get("source"))
    if source not in evidence:
        raise ContentError(f"{file}: grading.source {source!r} must be a key of {EVIDENCE_FILE}")
    return f"{'; '.join(parts)} ({evidence[source].label})."


def _override_reasons(file: Path, raw: Any, reasons: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(code, str) for code in raw):
        raise ContentError(
            f"{file}: override_reasons must be a non-empty code list from {CODESYSTEMS_FILE}"
        )
    unknown = [code for code in raw if code not in reasons]
    if unknown:
        raise ContentError(
            f"{file}: override reason(s) {', '.join(unknown)} not defined "
            f"(with a display) in {CODESYSTEMS_FILE}"
        )
    return tuple((code, reasons[code]) for code in dict.fromkeys(raw))


def _suggestions(file: Path, raw: Any, contract: CardContract) -> dict[str, SuggestionContent]:
    entries = {} if raw is None else _mapping(file, "suggestions", raw)
    required = contract_suggestion_keys(contract)
    missing = [key for key in required if key not in entries]
    if missing:
        raise ContentError(f"{file}: missing suggestion label(s) for {', '.join(missing)}")
    extra = sorted(str(key) for key in entries if key not in required)
    if extra:
        raise ContentError(
            f"{file}: unknown suggestion(s) {', '.join(extra)}; "
            f"this card offers {', '.join(required) or 'none'}"
        )
    result: dict[str, SuggestionContent] = {}
    for key in required:
        where = f"suggestions.{key}"
        entry = _mapping(file, where, entries[key])
        _only_keys(file, where, entry, {"label", "recommended", "delete_description"})
        label = _text(file, f"{where}.label", entry.get("label"))
        _plain(file, f"{where}.label", label)
        recommended = entry.get("recommended", False)
        if not isinstance(recommended, bool):
            raise ContentError(f"{file}: {where}.recommended must be true or false")
        deletes = key.startswith(("delete", "replace"))
        delete_description = entry.get("delete_description")
        if deletes:
            delete_description = _text(file, f"{where}.delete_description", delete_description)
        elif delete_description is not None:
            raise ContentError(f"{file}: {where}.delete_description only applies to suggestions that delete")
        result[key] = SuggestionContent(key, label, recommended, delete_description)
    if sum(s.recommended for s in result.values()) > 1:
        raise ContentError(
            f"{file}: at most one suggestion may be recommended "
            "(selectionBehavior at-most-one, CDS Hooks cds-resp-1)"
        )
    return result


def _evidence_markdown(cited: tuple[Evidence, ...], grading: str | None) -> str:
    lines = ["**Evidence**", ""]
    # Parentheses in a DOI (e.g. S1474-4422(09)70209-1) would end a markdown link early.
    lines += [f"- [{ev.label}]({quote(ev.url, safe=':/?&=#%.-_~+,;@!$*')})" for ev in cited]
    if grading:
        lines += ["", grading]
    return "\n".join(lines)


# --- small readers --------------------------------------------------------------------------------------


def _read_mapping(file: Path) -> dict[str, Any]:
    try:
        # libyaml when available: the pure-Python parser costs ~0.5 s per app start for these files.
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as error:
        raise ContentError(f"{file}: not valid YAML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ContentError(f"{file}: cannot be read: {error}") from None
    if not isinstance(data, dict):
        raise ContentError(f"{file}: must hold a YAML mapping at the top level")
    return data


def _mapping(file: Path, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not value:
        raise ContentError(f"{file}: {where} must be a non-empty mapping")
    return {str(key): item for key, item in value.items()}


def _only_keys(file: Path, where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        place = f"{where}: " if where else ""
        raise ContentError(
            f"{file}: {place}unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _text(file: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContentError(f"{file}: {where} must be a non-empty string")
    return value.strip()


def _plain(file: Path, where: str, text: str) -> None:
    problems = plain_text_problems(text)
    if problems:
        raise ContentError(f"{file}: {where} {'; '.join(problems)}")


def _labels(file: Path, where: str, raw: Any) -> dict[str, str]:
    entries = _mapping(file, where, raw)
    labels = {}
    for key, value in entries.items():
        labels[key] = _text(file, f"{where}.{key}", value)
        _plain(file, f"{where}.{key}", labels[key])
    return labels


def _url(file: Path, where: str, value: Any) -> str:
    url = _text(file, where, value)
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or " " in url:
        raise ContentError(f"{file}: {where} {url!r} must be an absolute https URL")
    return url
