"""Every ICD-10-CM code and ``is-a`` stem of every value set, checked offline against the CMS release.

The release is the one the pinned ``simple-icd-10-cm`` package ships (terminology.CMS_RELEASE names it). Checked
at test time over whatever files ``service/pathway/valuesets/`` holds, so codes added on other branches are
checked too once merged. A code or stem must be an item of the release (a category or subcategory; a stem may
also be a block, or a chapter written as its range, never a bare letter); a concept's display must be the CMS
description or be marked ``plain-label``; a verified code must not keep the ``R`` (recalled) mark.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from service import canonical
from service.fhir.coding import ICD10CM
from service.fhir.coding import normalise
from service.pathway.terminology import CMS_RELEASE
from service.pathway.terminology import CONFIDENCE_URL
from service.pathway.terminology import PLAIN_LABEL_URL
from service.pathway.terminology import UNVERIFIED_LABELS
from service.pathway.terminology import ValueSet
from service.pathway.terminology import load_value_sets
from service.pathway.terminology import parse_value_set

with warnings.catch_warnings():
    # The package reads its data with importlib.resources.read_text, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as cm

VALUESETS = Path(__file__).resolve().parents[3] / "service" / "pathway" / "valuesets"
_RANGE = re.compile(r"^([A-Z][0-9][0-9A-Z])-([A-Z][0-9][0-9A-Z])$")
_CHAPTER_RANGE = re.compile(r"\(([A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z])\)\s*$")
_SPACES = re.compile(r"\s+")
_SCRIPT = "(scripts/mark-icd10cm-verified)"


def _folded(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


@cache
def _categories() -> tuple[str, ...]:
    return tuple(code for code in cm.get_all_codes(True) if cm.is_category(code))


@cache
def _chapter_ranges() -> dict[str, str]:
    """Chapter number by the range its description ends with, e.g. ``O00-O9A`` -> ``15``."""
    found = {}
    for code in cm.get_all_codes(True):
        if cm.is_chapter(code):
            match = _CHAPTER_RANGE.search(cm.get_description(code))
            if match:
                found[match.group(1)] = code
    return found


def _categories_under(item: str) -> set[str]:
    # A block of one category (C50, C7A, B20) shares its name with that category.
    own = {item} if cm.is_category(item) else set()
    return own | {code for code in cm.get_descendants(item) if cm.is_category(code)}


def _item_categories(item: str) -> set[str]:
    """The categories under a chapter or block of the release.

    A few blocks are section headers with no codes of their own in the package's tree (``C00-C96`` "Malignant
    neoplasms" heads ``C00-C14`` ... ``C81-C96``): theirs are those of the blocks that follow them in the
    chapter, up to the one ending where the header's range ends.
    """
    found = _categories_under(item)
    if found or not cm.is_block(item):
        return found
    siblings = cm.get_children(cm.get_parent(item))
    last = item.split("-")[-1]
    for sibling in siblings[siblings.index(item) + 1 :]:
        found |= _categories_under(sibling)
        if sibling.split("-")[-1] == last:
            break
    return found


def _range_problem(stem: str) -> str | None:
    """Why the block or chapter range ``stem`` is not exactly one item of the release, else ``None``."""
    match = _RANGE.match(stem)
    assert match is not None
    if cm.is_block(stem):
        item = stem
    elif stem in _chapter_ranges():
        item = _chapter_ranges()[stem]
    else:
        return "is neither a block nor a chapter range of the release"
    wanted = _item_categories(item)
    # The loader matches a range on the three-character category, compared as text.
    selected = {code for code in _categories() if match.group(1) <= code <= match.group(2)}
    if selected != wanted:
        extra, missed = sorted(selected - wanted), sorted(wanted - selected)
        return f"as a range selects other categories than the release's item ({extra=}, {missed=}); list its blocks"
    return None


def _confidence(element: dict[str, Any]) -> str | None:
    for extension in element.get("extension", []):
        if isinstance(extension, dict) and extension.get("url") == CONFIDENCE_URL:
            value = extension.get("valueCode")
            return value if isinstance(value, str) else None
    return None


def _plain_label(concept: dict[str, Any]) -> bool:
    return any(
        isinstance(extension, dict) and extension.get("url") == PLAIN_LABEL_URL and extension.get("valueBoolean")
        for extension in concept.get("extension", [])
    )


def _icd10cm_includes(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for include in body.get("compose", {}).get("include", []):
        if isinstance(include, dict) and normalise(include.get("system"), "x") == normalise(ICD10CM, "x"):
            yield include


def release_problems(source: str, body: dict[str, Any]) -> list[str]:
    """Every way the ICD-10-CM content of the ValueSet ``body`` (from file ``source``) fails the release."""
    problems: list[str] = []
    for include in _icd10cm_includes(body):
        for concept in include.get("concept", []):
            code = str(concept.get("code", ""))
            where = f"{source}: concept {code!r}"
            if not cm.is_valid_item(code):
                problems.append(f"{where} is not in the {CMS_RELEASE} release")
                continue
            if not cm.is_category_or_subcategory(code):
                problems.append(f"{where} is a chapter or block: give it as an is-a filter, not a concept")
                continue
            official = cm.get_description(code)
            display = concept.get("display")
            if not isinstance(display, str) or (_folded(display) != _folded(official) and not _plain_label(concept)):
                problems.append(
                    f"{where} display {display!r} is not the CMS description {official!r}: use it, or mark ours "
                    f"with the extension {PLAIN_LABEL_URL} (valueBoolean true)"
                )
            if _confidence(concept) in UNVERIFIED_LABELS:
                problems.append(f"{where} verifies against the release: set its code-confidence to V-cms {_SCRIPT}")
        for item in include.get("filter", []):
            stem = str(item.get("value", "")).strip()
            where = f"{source}: is-a stem {stem!r}"
            if _RANGE.match(stem):
                problem = _range_problem(stem)
                if problem:
                    problems.append(f"{where} {problem}")
            elif not cm.is_valid_item(stem):
                problems.append(f"{where} is not an item of the {CMS_RELEASE} release (never a bare letter)")
                continue
            elif cm.is_chapter(stem):
                problems.append(f"{where} is a chapter number: write the chapter or block as its range (A00-B99)")
                continue
            if _confidence(item) in UNVERIFIED_LABELS:
                problems.append(f"{where} verifies against the release: set its code-confidence to V-cms {_SCRIPT}")
    return problems


def _files() -> list[Path]:
    return sorted(VALUESETS.glob("*.json"))


def test_the_package_carries_the_release_we_name() -> None:
    data_files = [entry.name for entry in resources.files("simple_icd_10_cm.data").iterdir()]
    tabular = [name for name in data_files if name.startswith("icd10c-tabular-") and name.endswith(".xml")]
    assert len(tabular) == 1, data_files
    month, day, year = re.fullmatch(r"icd10c-tabular-([A-Za-z]+)-(\d+)-(\d{4})\.xml", tabular[0]).groups()  # type: ignore[union-attr]
    assert f"{month} {day}, {year}" in CMS_RELEASE, f"the package ships {tabular[0]}: update CMS_RELEASE"
    assert f"simple-icd-10-cm {metadata.version('simple-icd-10-cm')}" in CMS_RELEASE


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_icd10cm_codes_are_in_the_cms_release(path: Path) -> None:
    problems = release_problems(path.name, json.loads(path.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_every_icd10cm_entry_is_marked_verified_offline() -> None:
    """What the checks above verified is what the review report shows as verified offline."""
    stale = [
        f"{vs.id}.json: {entry.code} is {entry.confidence}"
        for vs in load_value_sets(VALUESETS).values()
        for entry in vs.entries()
        if entry.system == ICD10CM and entry.confidence in UNVERIFIED_LABELS
    ]
    assert not stale, "set these to V-cms (scripts/mark-icd10cm-verified):\n" + "\n".join(stale)


# ------------------------------------------------------------------------------ the checker itself can fail


def _value_set(*, concepts: list[dict[str, Any]] = (), stems: list[str] = (), mark: str = "V-cms") -> dict[str, Any]:  # type: ignore[assignment]
    confidence = [{"url": CONFIDENCE_URL, "valueCode": mark}]
    include: dict[str, Any] = {"system": ICD10CM}
    if concepts:
        include["concept"] = [
            {**concept, "extension": [*concept.get("extension", []), *confidence]} for concept in concepts
        ]
    if stems:
        include["filter"] = [
            {"extension": confidence, "property": "concept", "op": "is-a", "value": stem} for stem in stems
        ]
    return {
        "resourceType": "ValueSet",
        "id": "test-release",
        "url": canonical.value_set_url("test-release"),
        "compose": {"include": [include]},
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_value_set(concepts=[{"code": "G44.841", "display": "Invented"}]), "'G44.841' is not in the"),
        (_value_set(stems=["C"]), "'C' is not an item"),
        (_value_set(stems=["O"]), "never a bare letter"),
        (_value_set(stems=["15"]), "is a chapter number"),
        (_value_set(stems=["C76-C80"]), "other categories than the release's item"),
        (_value_set(stems=["C00-C50"]), "neither a block nor a chapter range"),
        (_value_set(concepts=[{"code": "C00-C14", "display": "Lip"}]), "give it as an is-a filter"),
        (_value_set(concepts=[{"code": "Q87.40", "display": "Marfan's syndrome, unspecified"}]), "plain-label"),
        (_value_set(concepts=[{"code": "M54.2"}]), "display None"),
        (_value_set(concepts=[{"code": "M54.2", "display": "Cervicalgia"}], mark="R"), "set its code-confidence"),
        (_value_set(stems=["G43"], mark="R"), "set its code-confidence"),
    ],
)
def test_the_checker_rejects(body: dict[str, Any], expected: str) -> None:
    problems = release_problems("test-release.json", body)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    "body",
    [
        _value_set(concepts=[{"code": "M54.2", "display": "cervicalgia "}]),
        _value_set(concepts=[{"code": "M542", "display": "Cervicalgia"}]),
        _value_set(
            concepts=[
                {
                    "code": "M53.0",
                    "display": "Neck-related headache (cervicocranial syndrome)",
                    "extension": [{"url": PLAIN_LABEL_URL, "valueBoolean": True}],
                }
            ]
        ),
        _value_set(stems=["G43", "Z3A", "M50.1", "C00-C96", "C7A", "O00-O9A"]),
        _value_set(concepts=[{"code": "G44.86", "display": "Cervicogenic headache"}], mark="V"),
    ],
    ids=["case-and-space", "dotless", "plain-label", "families-blocks-chapter", "public-source-mark"],
)
def test_the_checker_accepts(body: dict[str, Any]) -> None:
    assert release_problems("test-release.json", body) == []


# ------------------------------------------------------------------------ blocks as is-a families (loader)


def _loaded(stems: list[str]) -> ValueSet:
    return parse_value_set(_value_set(stems=stems), "test-release.json")


@pytest.mark.parametrize(("stem", "item"), [("C00-C96", "C00-C96"), ("O00-O9A", "15"), ("C00-C14", "C00-C14")])
def test_a_range_family_matches_exactly_the_release_codes_of_its_item(stem: str, item: str) -> None:
    value_set = _loaded([stem])
    categories = _item_categories(item)
    wanted = {code for code in cm.get_all_codes(True) if not cm.is_chapter_or_block(code) and code[:3] in categories}
    letter = stem[0]
    same_letter = [
        code for code in cm.get_all_codes(True) if code.startswith(letter) and not cm.is_chapter_or_block(code)
    ]
    assert same_letter
    for code in same_letter:
        coding = normalise(ICD10CM, code)
        assert coding is not None
        assert value_set.contains(coding) is (code in wanted), code


def test_a_range_family_matches_dotless_and_dotted_codes() -> None:
    value_set = _loaded(["C00-C96"])
    for code in ("C79.51", "C7951", "c71.9", "C7A.1"):
        coding = normalise("urn:oid:2.16.840.1.113883.6.90", code)
        assert coding is not None and value_set.contains(coding), code
    for code in ("D49.6", "Z85.841", "B20"):
        coding = normalise(ICD10CM, code)
        assert coding is not None and not value_set.contains(coding), code
