"""Value sets of the pathway: load the FHIR ``ValueSet`` files once, validate them, answer membership.

The files under ``service/pathway/valuesets/`` are the single home of every clinical code the rules use
(no code literals in Python: a unit test checks it). Each is a FHIR R4 ``ValueSet`` whose ``compose.include`` lists a
``system`` plus ``concept`` codes and, for ICD-10-CM families (G43.*, C*, Z3A.*, ...), ``filter`` entries
``{"property": "concept", "op": "is-a", "value": "<stem>"}``: the stem and every code below it, checked as a
prefix of the dot-less normalised code. A stem may also be an ICD-10-CM block (``C00-C14``): every code whose
three-character category lies in that range. Membership is therefore a set lookup on the normalised
``(system, code)`` of :mod:`service.fhir.coding`, plus a short prefix scan for those families.

Extensions the loader reads (all under ``http://cgh-cds.example.org/fhir/StructureDefinition/``):

- ``code-confidence`` (concept or filter, required): ``V`` / ``V-c`` / ``R`` / ``local`` as in
  ``docs/clinical/reference.md`` §0, plus ``V-cms``: an ICD-10-CM code or family checked offline against the CMS
  release that
  ``tests/unit/pathway/test_icd10cm_release.py`` reads (:data:`CMS_RELEASE`), so a terminology review can list
  every unverified code (:meth:`ValueSet.unverified`) and the source of every verification
  (:data:`CONFIDENCE_SOURCES`).
- ``plain-label`` (concept, ``valueBoolean`` true): the display is our plain-language label, not the code
  system's own description (the ICD-10-CM test accepts a display that differs from the CMS description only
  when so marked).
- ``valueset-category`` (include): a ``valueCoding`` whose code groups the include's concepts (e.g. a red-flag
  kind) and whose display is the plain-language label used in card facts.
- ``manipulation-tier`` (include): ``absolute`` or ``relative`` (docs/clinical/reference.md §2.6).
- ``rxnorm-tty`` (concept): RxNorm term type. The display and designations of ``IN`` (ingredient) concepts
  are name-fallback terms of their include (:meth:`ValueSet.medication_match`), as ``name-match`` terms are.
- ``gestational-weeks`` (concept): completed weeks for a Z3A.xx code.
- ``name-match`` (include or concept, repeatable ``valueString``): a word or phrase that names the include's
  group (or that concept, e.g. a brand name) in free text. Used only by the safety name fallback
  (:meth:`ValueSet.name_hit`), never to create or confirm a diagnosis or to unlock escalation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any
from typing import Final
from typing import TypeVar

from service import canonical
from service.errors import ContentError
from service.fhir.coding import ICD10
from service.fhir.coding import ICD10CM
from service.fhir.coding import RXNORM
from service.fhir.coding import Coding
from service.fhir.coding import canonical_system
from service.fhir.coding import normalise
from service.fhir.coding import normalise_code

CONFIDENCE_URL = canonical.extension("code-confidence")
CATEGORY_URL = canonical.extension("valueset-category")
TIER_URL = canonical.extension("manipulation-tier")
TTY_URL = canonical.extension("rxnorm-tty")
GESTATIONAL_WEEKS_URL = canonical.extension("gestational-weeks")
NAME_MATCH_URL = canonical.extension("name-match")
PLAIN_LABEL_URL = canonical.extension("plain-label")

#: The CMS ICD-10-CM release that ``V-cms`` codes were checked against: the one the pinned ``simple-icd-10-cm``
#: package ships (tests/unit/pathway/test_icd10cm_release.py fails when the package carries another one).
CMS_RELEASE = "CMS ICD-10-CM FY2026, April 1, 2026 update (simple-icd-10-cm 1.5.0)"
#: Confidence labels of docs/clinical/reference.md §0 (TBD codes are never in a value set), ``V-cms`` (verified
#: offline against
#: :data:`CMS_RELEASE`), plus our own local codes.
CONFIDENCE_LABELS = frozenset({"V-cms", "V", "V-c", "R", "local"})
#: What each label means for a terminology review, and where its verification comes from.
CONFIDENCE_MEANINGS: Mapping[str, str] = MappingProxyType(
    {
        "V-cms": "verified offline",
        "V": "verified (public source)",
        "V-c": "corroborated",
        "R": "recalled",
        "local": "local",
    }
)
CONFIDENCE_SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "V-cms": CMS_RELEASE + ", checked by tests/unit/pathway/test_icd10cm_release.py",
        "V": "a public source named in the clinical reference (docs/clinical/)",
        "V-c": "a non-authoritative public source that agrees (docs/clinical/reference.md)",
        "R": "none: from memory, to be checked (VSAC, tx.fhir.org, RxNav, AMA CPT, CMS files)",
        "local": "our own code system (service.canonical)",
    }
)
#: Labels a terminology review must check before production use.
UNVERIFIED_LABELS = frozenset({"R"})
TIERS = frozenset({"absolute", "relative"})
#: Systems whose code families may be given as ``is-a`` prefix filters (codes compared dot-less).
_PREFIX_SYSTEMS = frozenset({ICD10CM, ICD10})
#: An ICD-10-CM block such as ``C00-C14`` or ``O94-O9A``: first and last three-character category.
_BLOCK = re.compile(r"^([A-Z][0-9][0-9A-Z])-([A-Z][0-9][0-9A-Z])$")
_INGREDIENT_TTY = "IN"
#: Wording that makes a text about someone else or about a test, not about the patient's own condition
#: (revision 2 §3: the name fallback skips family-history and screening wording).
_NOT_THE_PATIENTS_OWN = re.compile(
    r"\b(?:family\s+(?:history|hx)|fhx?|(?:mother|father|parent|sibling|brother|sister|son|daughter|grandmother|"
    r"grandfather|aunt|uncle)(?:'s)?\s+(?:has|had|with|history)|screening|screen\s+for|encounter\s+for\s+screening)\b",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


_V = TypeVar("_V")

#: Membership verdicts remembered per (system, code), per value set or combination; bounded so odd input cannot
#: grow a memo without limit.
_MEMO_LIMIT: Final = 50_000


def _remember(memo: dict[tuple[str, str], _V], key: tuple[str, str], verdict: _V) -> _V:
    """Store ``verdict`` under ``key`` (emptying ``memo`` first when it is full) and return it."""
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = verdict
    return verdict


class ValueSetId(StrEnum):
    """Every value set the rules use; each must exist as ``valuesets/<id>.json``."""

    CGH_DX_SPECIFIC = "cgh-dx-specific"
    CGH_DX_LEGACY = "cgh-dx-legacy"
    HEADACHE_SYMPTOMS = "headache-symptoms"
    CERVICAL_DISORDERS = "cervical-disorders"
    PT_EXERCISE = "pt-exercise"
    PT_REEVALUATION = "pt-reevaluation"
    PT_THERAPEUTIC_EXERCISE = "pt-therapeutic-exercise"
    MANIPULATION = "manipulation"
    CERVICAL_SPINE_IMAGING = "cervical-spine-imaging"
    NEUROVASCULAR_IMAGING = "neurovascular-imaging"
    HEAD_IMAGING = "head-imaging"
    GON_BLOCK = "gon-block"
    PERIPHERAL_NERVE_BLOCK = "peripheral-nerve-block"
    PERCUTANEOUS = "percutaneous"
    REFRACTORY = "refractory"
    BOTULINUM_TOXIN = "botulinum-toxin"
    CERVICAL_MEDIAL_BRANCH_BLOCK = "cervical-medial-branch-block"
    CERVICAL_SITE_REQUIRED = "cervical-site-required"
    OPIOIDS = "opioids"
    NSAIDS = "nsaids"
    PARACETAMOL = "paracetamol"
    TRIPTANS = "triptans"
    ANTICOAGULANTS = "anticoagulants"
    ANTICOAGULATION_STATUS = "anticoagulation-status"
    RED_FLAGS = "red-flags"
    RECENT_TRAUMA = "recent-trauma"
    IMMUNOSUPPRESSION = "immunosuppression"
    MANIPULATION_CONTRAINDICATIONS = "manipulation-contraindications"
    DIFFERENTIAL_MIGRAINE = "differential-migraine"
    DIFFERENTIAL_TENSION_TYPE = "differential-tension-type"
    DIFFERENTIAL_POTS = "differential-pots"
    DIFFERENTIAL_ORTHOSTATIC_HYPOTENSION = "differential-orthostatic-hypotension"
    DIFFERENTIAL_SIH = "differential-sih"
    DIFFERENTIAL_MEDICATION_OVERUSE = "differential-medication-overuse"
    CHRONIC_MIGRAINE = "chronic-migraine"
    PREGNANCY = "pregnancy"
    GESTATIONAL_AGE = "gestational-age"
    PREGNANCY_STATUS_OBSERVATION = "pregnancy-status-observation"
    HEADACHE_FREQUENCY_OBSERVATION = "headache-frequency-observation"
    TREATMENT_RESPONSE_OBSERVATION = "treatment-response-observation"
    RESPONSE_INADEQUATE = "response-inadequate"
    RESPONSE_ADEQUATE = "response-adequate"
    BLOCK_RELIEF_OBSERVATION = "block-relief-observation"
    BLOCK_POSITIVE = "block-positive"
    # Revision-2 C05-C09 (safety): time windows of red flags, history-counted contraindications, study types.
    RED_FLAGS_RECENT = "red-flags-recent"
    MALIGNANCY_HISTORY = "malignancy-history"
    RED_FLAG_EXCLUSIONS = "red-flag-exclusions"
    MANIPULATION_HISTORY_CONTRAINDICATIONS = "manipulation-history-contraindications"
    ARTHRODESIS_STATUS = "arthrodesis-status"
    DIZZINESS = "dizziness"
    IMAGING_STUDIES = "imaging-studies"
    # revision 2 C10, C12 (medications and pregnancy)
    BUTALBITAL = "butalbital"
    OPIOID_USE_DISORDER_TREATMENT = "opioid-use-disorder-treatment"
    OPIOID_USE_DISORDER = "opioid-use-disorder"
    ASPIRIN = "aspirin"
    PUERPERIUM = "puerperium"
    DELIVERY = "delivery"


@dataclass(frozen=True, slots=True)
class Group:
    """What one ``compose.include`` says about its concepts beyond membership."""

    system: str
    category: str | None = None
    label: str | None = None
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class NameHit:
    """A name-fallback match: the term as the value set writes it, and the group it names."""

    term: str
    group: Group


@dataclass(frozen=True, slots=True)
class MedicationMatch:
    """How a medication (or product order) matched a value set: the include groups it matched, and the term
    when it was recognised by name rather than by code (revision 2 §3; the card says so)."""

    groups: tuple[Group, ...]
    matched_by_name: str | None = None

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(group.category for group in self.groups if group.category)


@dataclass(frozen=True, slots=True)
class ConceptEntry:
    """One listed code (or family stem) with its review metadata."""

    system: str
    code: str
    display: str | None
    confidence: str
    family: bool = False
    #: Words or phrases that name this concept (or its group) in free text, for the safety name fallback.
    names: tuple[str, ...] = ()
    #: The display is our plain-language label rather than the code system's description (``plain-label``).
    plain_label: bool = False
    #: Index of the ``compose.include`` that lists it (its group; see :meth:`ValueSet.include_terms`).
    include: int = 0


class ValueSet:
    """One loaded value set: membership by normalised ``(system, code)`` and the metadata of its groups."""

    __slots__ = (
        "id",
        "url",
        "title",
        "systems",
        "_exact",
        "_prefixes",
        "_groups",
        "_weeks",
        "_names",
        "_entries",
        "_memo",
        "_terms",
        "_term_groups",
        "_blocks",
    )
    def __init__(
        self,
        *,
        id: str,
        url: str,
        title: str,
        groups: tuple[Group, ...],
        exact: Mapping[tuple[str, str], tuple[int, ...]],
        prefixes: Mapping[str, tuple[tuple[str, int], ...]],
        weeks: Mapping[tuple[str, str], int],
        names: tuple[str, ...],
        entries: tuple[ConceptEntry, ...],
        terms: Mapping[str, tuple[str, int]] | None = None,
        blocks: Mapping[str, tuple[tuple[str, str, int], ...]] | None = None,
    ) -> None:
        self.id = id
        self.url = url
        self.title = title
        self.systems = frozenset(group.system for group in groups)
        self._groups = groups
        self._exact = MappingProxyType(dict(exact))
        self._prefixes = MappingProxyType(dict(prefixes))
        self._blocks = MappingProxyType(dict(blocks or {}))
        self._weeks = MappingProxyType(dict(weeks))
        alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        self._names: re.Pattern[str] | None = (
            re.compile(r"\b(?:" + alternatives + r")\b", re.IGNORECASE) if names else None
        )
        self._entries = entries
        self._memo: dict[tuple[str, str], tuple[int, ...]] = {}
        # Name-fallback terms by their folded spelling -> (term as written, include index).
        self._term_groups = MappingProxyType(dict(terms or {}))
        term_alternatives = "|".join(
            r"\s+".join(re.escape(word) for word in folded.split())
            for folded in sorted(self._term_groups, key=len, reverse=True)
        )
        self._terms: re.Pattern[str] | None = (
            re.compile(r"(?<!\w)(?:" + term_alternatives + r")(?!\w)", re.IGNORECASE) if term_alternatives else None
        )

    def __repr__(self) -> str:
        return f"ValueSet({self.id!r})"

    def _indexes(self, coding: Coding) -> tuple[int, ...]:
        key = coding.key
        found = self._memo.get(key)
        if found is None:
            found = self._exact.get(key, ())
            prefixes = self._prefixes.get(coding.system)
            if prefixes:
                found = found + tuple(index for stem, index in prefixes if coding.code.startswith(stem))
            blocks = self._blocks.get(coding.system)
            if blocks:
                category = coding.code[:3]
                found = found + tuple(index for first, last, index in blocks if first <= category <= last)
            found = _remember(self._memo, key, found)
        return found

    def contains(self, coding: Coding) -> bool:
        """Whether ``coding`` (normalised, see :func:`service.fhir.coding.normalise`) is a member."""
        return bool(self._indexes(coding))

    def contains_any(self, codings: Iterable[Coding]) -> bool:
        # A plain loop: this runs for every resource against every value set a rule asks about.
        for coding in codings:
            if self._indexes(coding):
                return True
        return False

    def matching(self, codings: Iterable[Coding]) -> tuple[Coding, ...]:
        """The members among ``codings``, in their order."""
        return tuple(coding for coding in codings if self._indexes(coding))

    def groups(self, coding: Coding) -> tuple[Group, ...]:
        """The include groups ``coding`` belongs to (empty when not a member)."""
        return tuple(self._groups[index] for index in dict.fromkeys(self._indexes(coding)))

    def category_label(self, category: str) -> str | None:
        """The plain-language label of the first include grouped under ``category`` (None when none is)."""
        for group in self._groups:
            if group.category == category:
                return group.label
        return None

    def gestational_weeks(self, coding: Coding) -> int | None:
        """The ``gestational-weeks`` of an exactly listed concept, else ``None``."""
        return self._weeks.get(coding.key)

    def mentions(self, text: str | None) -> bool:
        """Whether ``text`` names one of the value set's ingredients (the lower-confidence name fallback)."""
        if not text or self._names is None:
            return False
        return self._names.search(text) is not None

    def matches_medication(self, codings: Iterable[Coding], text: str | None) -> bool:
        """Whether :meth:`medication_match` finds the medication in this value set."""
        return self.medication_match(codings, text) is not None

    def medication_match(
        self, codings: Iterable[Coding], *texts: str | None, deciding: Iterable[str] | None = None
    ) -> MedicationMatch | None:
        """Code match on any coding; the name fallback only when no coding is of a ``deciding`` system.

        Revision 2 §3: a medication coded in RxNorm is judged by its codes alone (an RxNorm product this value
        set does not list is not recognised by its display); one without RxNorm coding (text only, NDC, a local
        formulary code) is recognised by an ingredient or brand name, as a whole word or phrase, in ``texts``
        or a coding display. By default RxNorm decides only where this value set lists RxNorm codes: a group
        with no verified RxCUI (botulinum toxin, butalbital) could otherwise never recognise an RxNorm-coded
        product, a safety signal missed for good. Product orders (toxin) pass their own ``deciding`` systems.
        """
        listed = tuple(codings)
        matched = self.matching(listed)
        if matched:
            return MedicationMatch(tuple(dict.fromkeys(group for coding in matched for group in self.groups(coding))))
        systems = tuple(deciding) if deciding is not None else tuple(s for s in (RXNORM,) if s in self.systems)
        if has_coding_in(listed, systems):
            return None
        hit = self.name_hit(*texts, *(coding.display for coding in listed))
        return MedicationMatch((hit.group,), hit.term) if hit is not None else None

    def name_hit(self, *texts: str | None) -> NameHit | None:
        """The first whole-word or whole-phrase name of this value set in ``texts`` (revision 2 §3).

        Matches a term only as a whole word or phrase (never "tia" inside "dementia"), case- and
        space-insensitively, and skips any text worded as family history or screening. The caller decides
        whether the fallback applies at all (only when the resource carries no coding of the systems that
        would otherwise decide, see :func:`has_coding_in`) and uses it for safety cards only.
        """
        if self._terms is None:
            return None
        for text in texts:
            if not text or _NOT_THE_PATIENTS_OWN.search(text):
                continue
            found = self._terms.search(text)
            if found is not None:
                term, index = self._term_groups[_SPACES.sub(" ", found.group(0).lower())]
                return NameHit(term, self._groups[index])
        return None

    def name_terms(self) -> tuple[tuple[str, Group], ...]:
        """Every name-fallback term with the group it names (for the terminology review)."""
        return tuple((term, self._groups[index]) for term, index in self._term_groups.values())

    def include_terms(self, include: int) -> tuple[str, ...]:
        """The name-fallback terms that name include ``include`` as a group or one of its concepts."""
        return tuple(term for term, index in self._term_groups.values() if index == include)

    def entries(self) -> tuple[ConceptEntry, ...]:
        return self._entries

    def unverified(self) -> tuple[ConceptEntry, ...]:
        """Concepts and families flagged R (recalled): to be checked by a terminology review."""
        return tuple(entry for entry in self._entries if entry.confidence in UNVERIFIED_LABELS)


def has_coding_in(codings: Iterable[Coding], systems: Iterable[str]) -> bool:
    """Whether any of ``codings`` is of one of ``systems`` (canonical URIs).

    The name fallback applies only when this is false: a resource coded in ICD-10-CM or SNOMED CT (RxNorm,
    for medications) is judged by its codes alone.
    """
    wanted = frozenset(systems)
    return any(coding.system in wanted for coding in codings)


def _name_terms(source: str, element: Mapping[str, Any], what: str) -> list[str]:
    terms = []
    for extension in element.get("extension", []):
        if isinstance(extension, dict) and extension.get("url") == NAME_MATCH_URL:
            value = extension.get("valueString")
            if not isinstance(value, str) or not value.strip():
                raise _fail(source, f"a name-match extension of {what} needs a non-empty valueString")
            terms.append(_SPACES.sub(" ", value.strip()))
    return terms


def _fail(source: str, problem: str) -> ContentError:
    return ContentError(
        f"Value set {source}: {problem}. Fix the file under service/pathway/valuesets/ "
        "(FHIR R4 ValueSet, compose.include by system + concept codes; see service/pathway/README.md)."
    )


def _extension(element: Mapping[str, Any], url: str) -> Mapping[str, Any] | None:
    extensions = element.get("extension", [])
    if not isinstance(extensions, list):
        return None
    for extension in extensions:
        if isinstance(extension, dict) and extension.get("url") == url:
            return extension
    return None


def _confidence(source: str, element: Mapping[str, Any], what: str) -> str:
    extension = _extension(element, CONFIDENCE_URL)
    value = extension.get("valueCode") if extension else None
    if value not in CONFIDENCE_LABELS:
        raise _fail(source, f"{what} needs a code-confidence extension with valueCode in {sorted(CONFIDENCE_LABELS)}")
    return str(value)


def _group(source: str, include: Mapping[str, Any], system: str) -> Group:
    category = label = tier = None
    category_ext = _extension(include, CATEGORY_URL)
    if category_ext is not None:
        coding = category_ext.get("valueCoding")
        if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
            raise _fail(source, "a valueset-category extension needs a valueCoding with a code")
        category = coding["code"]
        label = coding.get("display") if isinstance(coding.get("display"), str) else category
    tier_ext = _extension(include, TIER_URL)
    if tier_ext is not None:
        tier = tier_ext.get("valueCode")
        if tier not in TIERS:
            raise _fail(source, f"manipulation-tier must be one of {sorted(TIERS)}")
    return Group(system=system, category=category, label=label, tier=tier)


def parse_value_set(body: Any, source: str) -> ValueSet:
    """A :class:`ValueSet` from a decoded FHIR ``ValueSet`` resource.

    :raises ContentError: when the resource is not a ValueSet, an include has no system, a concept has no
        code or confidence flag, or a filter is not an ICD-10-CM ``is-a`` family.
    """
    if not isinstance(body, dict) or body.get("resourceType") != "ValueSet":
        raise _fail(source, "resourceType must be 'ValueSet'")
    vs_id, url = body.get("id"), body.get("url")
    if not isinstance(vs_id, str) or not vs_id or not isinstance(url, str) or not url:
        raise _fail(source, "'id' and 'url' are required strings")
    compose = body.get("compose")
    includes = compose.get("include") if isinstance(compose, dict) else None
    if not isinstance(includes, list) or not includes:
        raise _fail(source, "compose.include must be a non-empty list")
    groups: list[Group] = []
    exact: dict[tuple[str, str], list[int]] = {}
    prefixes: dict[str, list[tuple[str, int]]] = {}
    blocks: dict[str, list[tuple[str, str, int]]] = {}
    weeks: dict[tuple[str, str], int] = {}
    names: list[str] = []
    entries: list[ConceptEntry] = []
    terms: dict[str, tuple[str, int]] = {}

    def add_terms(found: Iterable[str], index: int) -> None:
        for term in found:
            # The first group to name a term keeps it: a term names one thing in one value set.
            terms.setdefault(term.lower(), (term, index))

    for index, include in enumerate(includes):
        if not isinstance(include, dict):
            raise _fail(source, f"include #{index} must be an object")
        raw_system = include.get("system")
        if not isinstance(raw_system, str) or not raw_system.strip():
            raise _fail(source, f"include #{index} has no system")
        system = canonical_system(raw_system)
        groups.append(_group(source, include, system))
        add_terms(_name_terms(source, include, f"include #{index}"), index)
        concepts = include.get("concept", [])
        filters = include.get("filter", [])
        if not isinstance(concepts, list) or not isinstance(filters, list) or not (concepts or filters):
            raise _fail(source, f"include #{index} needs a 'concept' or 'filter' list")
        for concept in concepts:
            code = concept.get("code") if isinstance(concept, dict) else None
            coding = normalise(system, code) if isinstance(code, str) else None
            if coding is None or not isinstance(concept, dict):
                raise _fail(source, f"include #{index} has a concept without a code")
            display = concept.get("display") if isinstance(concept.get("display"), str) else None
            concept_terms = _name_terms(source, concept, f"concept {code}")
            plain_ext = _extension(concept, PLAIN_LABEL_URL)
            if plain_ext is not None and not isinstance(plain_ext.get("valueBoolean"), bool):
                raise _fail(source, f"the plain-label extension of {code} needs a valueBoolean")
            entries.append(
                ConceptEntry(
                    system,
                    str(code),
                    display,
                    _confidence(source, concept, f"concept {code}"),
                    names=tuple(concept_terms),
                    plain_label=plain_ext is not None and plain_ext.get("valueBoolean") is True,
                    include=index,
                )
            )
            add_terms(concept_terms, index)
            exact.setdefault(coding.key, []).append(index)
            weeks_ext = _extension(concept, GESTATIONAL_WEEKS_URL)
            if weeks_ext is not None:
                value = weeks_ext.get("valueInteger")
                if not isinstance(value, int) or isinstance(value, bool):
                    raise _fail(source, f"gestational-weeks of {code} must be a valueInteger")
                weeks[coding.key] = value
            tty_ext = _extension(concept, TTY_URL)
            if tty_ext is not None and tty_ext.get("valueCode") == _INGREDIENT_TTY:
                ingredient_names = [display] if display else []
                for designation in concept.get("designation", []):
                    value = designation.get("value") if isinstance(designation, dict) else None
                    if isinstance(value, str) and value.strip():
                        ingredient_names.append(value.strip())
                names.extend(ingredient_names)
                # An ingredient's name and designations (brands) are name-fallback terms of its group too.
                add_terms(ingredient_names, index)
        for item in filters:
            if not isinstance(item, dict) or item.get("property") != "concept" or item.get("op") != "is-a":
                raise _fail(source, f"include #{index}: only filters 'concept' 'is-a' are supported")
            stem = item.get("value")
            if system not in _PREFIX_SYSTEMS:
                raise _fail(source, f"include #{index}: is-a families are supported for ICD-10(-CM) only")
            if not isinstance(stem, str) or not stem.strip():
                raise _fail(source, f"include #{index}: an is-a filter needs a value")
            entries.append(
                ConceptEntry(
                    system, stem, None, _confidence(source, item, f"family {stem}"), family=True, include=index
                )
            )
            block = _BLOCK.match(stem.strip().upper())
            if block is not None:
                blocks.setdefault(system, []).append((block.group(1), block.group(2), index))
            else:
                prefixes.setdefault(system, []).append((normalise_code(system, stem), index))
    return ValueSet(
        id=vs_id,
        url=url,
        title=str(body.get("title") or vs_id),
        groups=tuple(groups),
        exact={key: tuple(value) for key, value in exact.items()},
        prefixes={key: tuple(value) for key, value in prefixes.items()},
        weeks=weeks,
        names=tuple(dict.fromkeys(names)),
        entries=tuple(entries),
        terms=terms,
        blocks={key: tuple(value) for key, value in blocks.items()},
    )


def load_value_sets(directory: Path | None = None) -> Mapping[str, ValueSet]:
    """Every ``*.json`` value set in ``directory`` (default: the package's ``valuesets/``), by id.

    :raises ContentError: a file is unreadable or invalid, its id differs from its file name, or a value set
        listed in :class:`ValueSetId` is missing.
    """
    folder = directory
    if folder is None:
        folder = Path(str(resources.files("service.pathway") / "valuesets"))
    loaded: dict[str, ValueSet] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _fail(path.name, f"cannot be read as JSON ({exc.__class__.__name__})") from exc
        value_set = parse_value_set(body, path.name)
        if value_set.id != path.stem:
            raise _fail(path.name, f"id {value_set.id!r} must equal the file name {path.stem!r}")
        loaded[value_set.id] = value_set
    missing = sorted(member.value for member in ValueSetId if member.value not in loaded)
    if missing:
        raise _fail(str(folder), f"missing value sets {missing}")
    return MappingProxyType(loaded)


@cache
def _packaged() -> Mapping[str, ValueSet]:
    return load_value_sets()


def value_set(vs_id: ValueSetId) -> ValueSet:
    """The packaged value set ``vs_id`` (all are loaded and validated on first use)."""
    return _by_member()[vs_id]


@cache
def _by_member() -> Mapping[ValueSetId, ValueSet]:
    # Keyed by the enum member itself: rules ask for value sets hundreds of times per evaluation.
    packaged = _packaged()
    return MappingProxyType({member: packaged[member.value] for member in ValueSetId})


class AnyOf:
    """Membership in any of several value sets, one remembered verdict per (system, code).

    Some questions are always asked of the same sets together (is this Observation read by any rule? is this
    reason a head/neck condition?): asking each set in turn costs one memo look-up per set and coding for every
    resource of every request. The verdict is exactly ``any(vs.contains(coding) for vs in value_sets)``.
    """

    __slots__ = ("value_sets", "_memo")

    def __init__(self, value_sets: tuple[ValueSet, ...]) -> None:
        self.value_sets = value_sets
        self._memo: dict[tuple[str, str], bool] = {}

    def contains(self, coding: Coding) -> bool:
        key = (coding.system, coding.code)
        found = self._memo.get(key)
        if found is None:
            found = _remember(self._memo, key, any(vs.contains(coding) for vs in self.value_sets))
        return found

    def contains_any(self, codings: Iterable[Coding]) -> bool:
        for coding in codings:
            if self.contains(coding):
                return True
        return False


@cache
def any_of(*vs_ids: ValueSetId) -> AnyOf:
    """The :class:`AnyOf` of the packaged value sets ``vs_ids``, built once per combination.

    Cached by the ids: the packaged value sets are loaded once per process (:func:`_packaged`) and never
    replaced, and resolving them on every call cost as much as the look-ups it saves.
    """
    return AnyOf(tuple(value_set(vs_id) for vs_id in vs_ids))


def all_value_sets() -> Mapping[str, ValueSet]:
    """Every packaged value set, by id (loads and validates them on first call: call it at start-up)."""
    return _packaged()


def short_name(codings: Iterable[Coding]) -> str | None:
    """Our short plain label of an order code listed by a value set (e.g. "MRI cervical spine without
    contrast" for CPT 72141), or ``None`` when no coding is listed with a display.

    Cards name orders by this label rather than by the EHR's full descriptor, so a summary keeps the word that
    matters ("cervical") within its length budget (issue 15).
    """
    names = _short_names()
    for coding in codings:
        found = names.get(coding.key)
        if found:
            return found
    return None


_SHORT_NAME_MAX = 48


@cache
def _short_names() -> Mapping[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    for value_set_ in _packaged().values():
        for entry in value_set_.entries():
            # Only our short plain labels: a long or ";"-structured display is a code system's descriptor.
            if entry.family or not entry.display or len(entry.display) > _SHORT_NAME_MAX or ";" in entry.display:
                continue
            coding = normalise(entry.system, entry.code)
            if coding is not None:
                names.setdefault(coding.key, entry.display.strip())
    return MappingProxyType(names)
