"""Load and validate the card content in ``cards/`` once, at start-up, into an immutable ``CardLibrary``.

Everything that can be checked without a patient is checked here, so a broken card stops the service (and
``cgh-cds check``) instead of producing a bad card at 3 a.m.: one file per recommendation id, placeholders
limited to the catalogue facts of that id, text for every catalogue note, labels for every trigger role and
suggestion, summaries that fit the 139-character budget, resolvable evidence and override-reason codes,
absolute https URLs, no raw HTML. Errors are ``ContentError`` naming the file, the field and the fix.

The shape of each file (keys, types, plain text, URLs) is the marshmallow schemas' of ``_schemas``; what is
checked here depends on the recommendation's contract (``_contract``) or on another file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from typing import Final
from urllib.parse import quote

from service import canonical
from service.errors import ContentError
from service.pathway.advice import RecommendationId
from service.render._contract import CONTRACTS
from service.render._contract import CardContract
from service.render._contract import contract_suggestion_keys
from service.render._orders import ORDER_KEYS
from service.render._orders import OrderTemplate
from service.render._orders import validated_service_request
from service.render._schemas import CARD
from service.render._schemas import CODESYSTEMS
from service.render._schemas import COMMON
from service.render._schemas import EVIDENCE
from service.render._schemas import load_content_file
from service.render._text import SUMMARY_FIELD_ROOM
from service.render._text import SUMMARY_MAX
from service.render._text import Template
from service.render._text import TemplateError
from service.render._text import compile_template
from service.render._text import markup_problems
from service.render._text import plain_text_problems
from service.render._text import unwrap

#: Base of every canonical URL the service mints (service.canonical holds them all).
FHIR_BASE_URL: Final = canonical.BASE
#: ``card.source.topic.system``: code = recommendation id, display = card title.
RECOMMENDATION_SYSTEM: Final = canonical.RECOMMENDATION_SYSTEM
#: ``card.overrideReasons[].system``.
OVERRIDE_REASON_SYSTEM: Final = canonical.OVERRIDE_REASON_SYSTEM

CODESYSTEMS_FILE: Final = "_codesystems.yaml"
EVIDENCE_FILE: Final = "_evidence.yaml"
COMMON_FILE: Final = "_common.yaml"


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


# --- shared files (their shape is checked by service.render._schemas) -----------------------------------


def _load_codesystems(file: Path) -> dict[str, str]:
    data = load_content_file(file, CODESYSTEMS)
    return {concept["code"]: concept["display"] for concept in data["override_reason"]["concepts"]}


def _load_evidence(file: Path) -> dict[str, Evidence]:
    data = load_content_file(file, EVIDENCE)
    return {key: Evidence(key, entry["label"], entry["url"], entry["recalled"]) for key, entry in data.items()}


def _load_common(file: Path) -> tuple[dict[str, str], dict[str, OrderTemplate], str, dict[str, str]]:
    data = load_content_file(file, COMMON)
    orders: dict[str, OrderTemplate] = {}
    for key in ORDER_KEYS:
        order = OrderTemplate(key=key, **data["orders"][key])
        _check_order(file, f"orders.{key}", order)
        orders[key] = order
    return data["roles"], orders, data["blank_fact"], data["data_gaps"]


def _check_order(file: Path, where: str, order: OrderTemplate) -> None:
    """Build a sample of the order and validate it with fhir.resources, so a bad code fails at start-up."""
    try:
        validated_service_request(order, "Patient/example", "Condition/example")
    except ValueError as error:
        raise ContentError(f"{file}: {where} does not make a valid FHIR R4 ServiceRequest: {error}") from None


# --- card files: the shape is the schema's; what is checked here depends on the contract or another file ---


def _load_card(
    file: Path,
    rec: RecommendationId,
    evidence: Mapping[str, Evidence],
    reasons: Mapping[str, str],
    common_roles: Mapping[str, str],
) -> CardContent:
    contract = CONTRACTS[rec]
    data = load_content_file(file, CARD)
    if data["id"] != rec.value:
        raise ContentError(f"{file}: id {data['id']!r} must equal the file name ({rec.value!r})")
    facts = frozenset(contract.facts)
    summary = _summary(file, "summary", data["summary"], facts, rec)
    detail = _detail(file, "detail", data["detail"], facts, rec)
    notes = _notes(file, data["notes"] or {}, contract, rec)
    roles = _roles(file, data["roles"] or {}, contract, common_roles)
    cited = _evidence(file, data["evidence"], evidence)
    grading = _grading(file, data["grading"], evidence)
    override = _override_reasons(file, data["override_reasons"] or (), reasons)
    suggestions = _suggestions(file, data["suggestions"] or {}, contract)
    return CardContent(
        recommendation=rec,
        title=data["title"],
        version=data["version"],
        source_label=data["source"]["label"],
        source_url=data["source"]["url"],
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


def _summary(file: Path, where: str, text: str, facts: frozenset[str], rec: RecommendationId) -> Template:
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


def _detail(file: Path, where: str, text: str, facts: frozenset[str], rec: RecommendationId) -> Template:
    text = unwrap(text)
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
                "(the declaration in service/pathway/rules/; `cgh-cds catalogue` lists them all)"
            )
    return template


def _notes(
    file: Path, entries: Mapping[str, tuple[str, str | None]], contract: CardContract, rec: RecommendationId
) -> dict[str, Note]:
    missing = [name for name in contract.notes if name not in entries]
    if missing:
        raise ContentError(
            f"{file}: missing text for note(s) {', '.join(missing)}; the rule for {rec.value} may add them "
            "(its declaration; `cgh-cds catalogue`), so each needs a paragraph under 'notes'"
        )
    extra = sorted(str(name) for name in entries if name not in contract.notes)
    if extra:
        allowed = ", ".join(contract.notes) or "none"
        raise ContentError(f"{file}: unknown note(s) {', '.join(extra)}; notes of {rec.value}: {allowed}")
    notes: dict[str, Note] = {}
    for name in contract.notes:
        where = f"notes.{name}"
        facts = frozenset((*contract.facts, *contract.note_facts.get(name, ())))
        detail, summary = entries[name]
        # A note written as a bare paragraph is reported as notes.<name>, one with a summary as .detail.
        notes[name] = Note(
            name,
            _detail(file, where if summary is None else f"{where}.detail", detail, facts, rec),
            None if summary is None else _summary(file, f"{where}.summary", summary, facts, rec),
        )
    return notes


def _roles(file: Path, own: Mapping[str, str], contract: CardContract, common: Mapping[str, str]) -> dict[str, str]:
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


def _evidence(file: Path, keys: tuple[str, ...], evidence: Mapping[str, Evidence]) -> tuple[Evidence, ...]:
    unknown = [key for key in keys if key not in evidence]
    if unknown:
        raise ContentError(f"{file}: evidence {', '.join(unknown)} not defined in {EVIDENCE_FILE}")
    return tuple(evidence[key] for key in keys)


def _grading(file: Path, entry: Mapping[str, str | None] | None, evidence: Mapping[str, Evidence]) -> str | None:
    if entry is None:
        return None
    labels = (("strength", "Strength of recommendation"), ("quality", "Quality of evidence"))
    parts = [f"{label}: {entry[key]}" for key, label in labels if entry[key] is not None]
    source = str(entry["source"])
    if source not in evidence:
        raise ContentError(f"{file}: grading.source {source!r} must be a key of {EVIDENCE_FILE}")
    return f"{'; '.join(parts)} ({evidence[source].label})."


def _override_reasons(file: Path, codes: tuple[str, ...], reasons: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    unknown = [code for code in codes if code not in reasons]
    if unknown:
        raise ContentError(
            f"{file}: override reason(s) {', '.join(unknown)} not defined "
            f"(with a display) in {CODESYSTEMS_FILE}"
        )
    return tuple((code, reasons[code]) for code in dict.fromkeys(codes))


def _suggestions(
    file: Path, entries: Mapping[str, Mapping[str, Any]], contract: CardContract
) -> dict[str, SuggestionContent]:
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
        entry = entries[key]
        deletes = key.startswith(("delete", "replace"))
        delete_description = entry["delete_description"]
        if deletes and delete_description is None:
            raise ContentError(f"{file}: {where}.delete_description is required: the suggestion deletes an order")
        if not deletes and delete_description is not None:
            raise ContentError(f"{file}: {where}.delete_description only applies to suggestions that delete")
        result[key] = SuggestionContent(key, entry["label"], entry["recommended"], delete_description)
    return result


def _evidence_markdown(cited: tuple[Evidence, ...], grading: str | None) -> str:
    lines = ["**Evidence**", ""]
    # Parentheses in a DOI (e.g. S1474-4422(09)70209-1) would end a markdown link early.
    lines += [f"- [{ev.label}]({quote(ev.url, safe=':/?&=#%.-_~+,;@!$*')})" for ev in cited]
    if grading:
        lines += ["", grading]
    return "\n".join(lines)


# --- small readers --------------------------------------------------------------------------------------


def _plain(file: Path, where: str, text: str) -> None:
    problems = plain_text_problems(text)
    if problems:
        raise ContentError(f"{file}: {where} {'; '.join(problems)}")
