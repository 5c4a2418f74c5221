"""load_card_library: the real content loads; each kind of broken content stops start-up with a useful message.

Negative cases copy ``cards/`` into a temporary folder and break one thing (AHRQ's negative-test-hooks idea:
one broken config per failure mode).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.errors import ContentError
from service.pathway.advice import RecommendationId
from service.render import OVERRIDE_REASON_SYSTEM
from service.render import RECOMMENDATION_SYSTEM
from service.render import CardLibrary
from service.render import load_card_library


def test_real_library_has_a_card_for_every_recommendation(library: CardLibrary) -> None:
    assert len(library) == len(RecommendationId)
    assert set(library.cards) == set(RecommendationId)
    assert library.recommendation_system == RECOMMENDATION_SYSTEM
    assert library.override_reason_system == OVERRIDE_REASON_SYSTEM
    for rec, card in library.cards.items():
        assert card.recommendation is rec
        assert re.fullmatch(r"\d+\.\d+\.\d+", card.version)
        assert card.evidence and card.title and card.source_url.startswith("https://")


def test_recalled_citations_are_flagged_for_governance(library: CardLibrary) -> None:
    recalled = {ev.key for ev in library.recalled_citations}
    assert recalled == {
        "fernandez-2014",
        "blanpied-2017",
        "biller-2014",
        "fda-codeine-tramadol-children-2017",
        "botulinum-toxin-label",
        "ahs-choosing-wisely-2013",
        "nice-ng133-aspirin",
    }


def test_override_reason_displays_are_looked_up_by_code(library: CardLibrary) -> None:
    assert library.override_reason_display("red-flag-evaluated") == "Red flag evaluated, not concerning"
    assert library.override_reason_display("no-such-code") is None


# --- broken content ---------------------------------------------------------------------------------------


@pytest.fixture
def broken(tmp_path: Path, cards_dir: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(cards_dir, target)
    return target


def edit(folder: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    file = folder / name
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    change(data)
    file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _set(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _delete(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _drop_display(data: dict[str, Any]) -> None:
    del data["override-reason"]["concepts"][0]["display"]


CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    (
        "unknown-placeholder",
        "pt-trial-in-progress.yaml",
        _set("detail", value="Started {pt_start}."),
        r"pt-trial-in-progress\.yaml: detail uses unknown placeholder \{pt_start\}: pt-trial-in-progress facts "
        r"are min_sessions, min_weeks, pt_first, pt_last, pt_sessions, pt_weeks",
    ),
    (
        "placeholder-in-a-card-without-facts",
        "pt-first-line.yaml",
        _set("summary", value="Start PT after {pt_weeks} weeks."),
        r"summary uses unknown placeholder \{pt_weeks\}: pt-first-line facts are none",
    ),
    (
        "note-fact-outside-its-note",
        "medication-symptomatic-only.yaml",
        _set("detail", value="At {gest_weeks} weeks."),
        r"unknown placeholder \{gest_weeks\}",
    ),
    (
        "stray-brace",
        "red-flags.yaml",
        _set("detail", value="Red flags {red_flags} and {literal text}."),
        r"red-flags\.yaml: detail: stray '\{'",
    ),
    (
        "summary-too-long",
        "red-flags.yaml",
        _set("summary", value="Red flags ({red_flags}): " + "evaluate for a secondary headache, " * 4),
        r"red-flags\.yaml: summary is too long: \d+ characters of fixed text with 1 placeholder\(s\); the limit "
        r"is 119",
    ),
    (
        "note-summary-too-long",
        "red-flags.yaml",
        _set("notes", "dissection-suspected", "summary", value="x" * 140),
        r"notes\.dissection-suspected\.summary is too long",
    ),
    (
        "summary-with-markdown",
        "red-flags.yaml",
        _set("summary", value="**Red flags** ({red_flags})."),
        r"summary must be plain text",
    ),
    (
        "missing-note-text",
        "red-flags.yaml",
        _delete("notes", "post-traumatic"),
        r"red-flags\.yaml: missing text for note\(s\) post-traumatic",
    ),
    ("unknown-note", "red-flags.yaml", _set("notes", "gout", value="Gout."), r"unknown note\(s\) gout"),
    (
        "override-reason-without-display",
        "_codesystems.yaml",
        _drop_display,
        r"_codesystems\.yaml: override-reason\.concepts\[0\]\.display is required: CDS Hooks 2\.0 requires a display",
    ),
    (
        "override-reason-not-defined",
        "red-flags.yaml",
        _set("override_reasons", value=["red-flag-evaluated", "felt-like-it"]),
        r"override reason\(s\) felt-like-it not defined \(with a display\)",
    ),
    (
        "recommendation-system-changed",
        "_codesystems.yaml",
        _set("recommendation", "url", value="https://example.org/other"),
        r"recommendation\.url must be http://cgh-cds\.example\.org/fhir/CodeSystem/recommendation",
    ),
    (
        "raw-html",
        "pt-first-line.yaml",
        _set("detail", value="Start <b>physical therapy</b>."),
        r"pt-first-line\.yaml: detail: raw HTML is not allowed",
    ),
    (
        "non-http-link",
        "pt-first-line.yaml",
        _set("detail", value="See [the guideline](ftp://example.org/g)."),
        r"link target 'ftp://example\.org/g' must be an absolute http\(s\) URL",
    ),
    (
        "bad-evidence-url",
        "_evidence.yaml",
        _set("jull-2023", "url", value="http://doi.org/10.1016/j.msksp.2023.102787"),
        r"_evidence\.yaml: jull-2023\.url .* must be an absolute https URL",
    ),
    ("bad-source-url", "red-flags.yaml", _set("source", "url", value="doi.org/x"), r"source\.url"),
    ("unknown-evidence", "red-flags.yaml", _set("evidence", value=["nobody-2099"]), r"nobody-2099 not defined"),
    (
        "typo-key",
        "red-flags.yaml",
        _set("sumary", value="x"),
        r"red-flags\.yaml: sumary is not a known key; allowed: detail, evidence, grading, id, notes, ",
    ),
    ("missing-title", "red-flags.yaml", _delete("title"), r"red-flags\.yaml: title is required"),
    ("empty-title", "red-flags.yaml", _set("title", value=""), r"red-flags\.yaml: title must be a non-empty string"),
    ("title-not-a-string", "red-flags.yaml", _set("title", value=42), r"red-flags\.yaml: title must be a non-empty"),
    ("source-not-a-mapping", "red-flags.yaml", _set("source", value="CGH"), r"red-flags\.yaml: source must be a map"),
    ("source-without-label", "red-flags.yaml", _delete("source", "label"), r"red-flags\.yaml: source\.label is req"),
    (
        "note-of-the-wrong-type",
        "red-flags.yaml",
        _set("notes", "post-traumatic", value=["a", "list"]),
        r"red-flags\.yaml: notes\.post-traumatic must be a mapping",
    ),
    (
        "suggestion-label-not-a-string",
        "pt-first-line.yaml",
        _set("suggestions", "create-pt-referral", "label", value=["Refer"]),
        r"pt-first-line\.yaml: suggestions\.create-pt-referral\.label must be a non-empty string",
    ),
    ("bad-version", "red-flags.yaml", _set("version", value="v1"), r"version 'v1' must be semantic"),
    # The rule chooses the urgency; a card file has no indicator (issue 12: the field did nothing).
    ("indicator-is-the-rules", "red-flags.yaml", _set("indicator", value="info"), r"indicator is not a known key"),
    ("id-mismatch", "red-flags.yaml", _set("id", value="red-flag"), r"id 'red-flag' must equal the file name"),
    (
        "missing-role-label",
        "red-flags.yaml",
        _delete("roles"),
        r"no label for trigger role\(s\) red-flag",
    ),
    (
        "missing-suggestion-label",
        "imaging-not-indicated.yaml",
        _delete("suggestions", "delete-orders"),
        r"missing suggestion label\(s\) for delete-orders",
    ),
    (
        "two-recommended-suggestions",
        "imaging-not-indicated.yaml",
        _set("suggestions", "delete-orders", "recommended", value=True),
        r"imaging-not-indicated\.yaml: suggestions may mark at most one suggestion recommended",
    ),
    (
        "suggestion-on-a-card-without-suggestions",
        "red-flags.yaml",
        _set("suggestions", value={"create-pt-referral": {"label": "Refer"}}),
        r"unknown suggestion\(s\) create-pt-referral; this card offers none",
    ),
    (
        "bad-order-code-system",
        "_common.yaml",
        _set("orders", "gon-block", "system", value="urn:oid:2.16.840.1.113883.6.12"),
        r"orders\.gon-block\.system",
    ),
    (
        "missing-order",
        "_common.yaml",
        _delete("orders", "pt-referral"),
        r"_common\.yaml: orders\.pt-referral is required",
    ),
    (
        "order-code-not-valid-fhir",
        "_common.yaml",
        _set("orders", "gon-block", "code", value="64  405"),
        r"orders\.gon-block does not make a valid FHIR R4 ServiceRequest",
    ),
    (
        "grading-without-values",
        "escalate-percutaneous.yaml",
        _set("grading", value={"source": "fernandez-2014"}),
        r"grading needs a strength and/or a quality",
    ),
    (
        "grading-unknown-source",
        "escalate-percutaneous.yaml",
        _set("grading", "source", value="somebody"),
        r"grading\.source 'somebody'",
    ),
    ("duplicate-evidence", "red-flags.yaml", _set("evidence", value=["jull-2023", "jull-2023"]), r"twice"),
    (
        "evidence-not-a-list",
        "red-flags.yaml",
        _set("evidence", value="jull-2023"),
        r"red-flags\.yaml: evidence must be a non-empty list of keys from _evidence\.yaml",
    ),
    (
        "override-reason-code-style",
        "_codesystems.yaml",
        _set("override-reason", "concepts", value=[{"code": "Already_Addressed", "display": "x"}]),
        r"must be lower-kebab-case",
    ),
    (
        "override-reason-defined-twice",
        "_codesystems.yaml",
        _set("override-reason", "concepts", value=[{"code": "a", "display": "x"}, {"code": "a", "display": "y"}]),
        r"override-reason\.concepts defines override reason\(s\) 'a' twice",
    ),
    (
        "override-reason-system-changed",
        "_codesystems.yaml",
        _set("override-reason", "url", value="https://example.org/reasons"),
        r"override-reason\.url must be",
    ),
    ("no-override-reasons", "_codesystems.yaml", _set("override-reason", "concepts", value=[]), r"non-empty list"),
    (
        "delete-wording-on-a-create",
        "pt-first-line.yaml",
        _set("suggestions", "create-pt-referral", "delete_description", value="Cancel"),
        r"delete_description only applies to suggestions that delete",
    ),
    (
        "recommended-not-boolean",
        "pt-first-line.yaml",
        _set("suggestions", "create-pt-referral", "recommended", value="yes"),
        r"recommended must be true or false",
    ),
    ("title-too-long", "red-flags.yaml", _set("title", value="Red flags " * 10), r"keep it under 90"),
    ("recalled-not-boolean", "_evidence.yaml", _set("jull-2023", "recalled", value="r"), r"recalled must be true"),
    (
        "note-with-unknown-key",
        "red-flags.yaml",
        _set("notes", "dissection-suspected", "detial", value="x"),
        r"notes\.dissection-suspected\.detial is not a known key; allowed: detail, summary",
    ),
    ("missing-blank-fact", "_common.yaml", _delete("blank_fact"), r"_common\.yaml: blank_fact is required"),
    ("role-label-with-markup", "_common.yaml", _set("roles", "diagnosis", value="<i>Dx</i>"), r"roles\.diagnosis"),
    (
        "missing-data-gap",
        "_common.yaml",
        _delete("data_gaps", "medicationrequests"),
        r"_common\.yaml: data_gaps\.medicationrequests is required",
    ),
    (
        "unknown-data-gap",
        "_common.yaml",
        _set("data_gaps", "allergies", value="x"),
        r"_common\.yaml: data_gaps\.allergies is not a known key",
    ),
]


@pytest.mark.parametrize(("file", "change", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_content_is_a_content_error_naming_file_and_fix(
    broken: Path, file: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    edit(broken, file, change)
    with pytest.raises(ContentError, match=message):
        load_card_library(broken)


def test_every_problem_of_a_file_is_reported_at_once(broken: Path) -> None:
    """A file's shape errors come together, each naming its field, so one start-up shows them all."""

    def break_three(data: dict[str, Any]) -> None:
        data["version"] = "v1"
        data["source"]["url"] = "doi.org/x"
        data["grading"] = {"source": "jull-2023", "strenght": "A"}

    edit(broken, "red-flags.yaml", break_three)
    with pytest.raises(ContentError) as info:
        load_card_library(broken)
    message = str(info.value)
    assert message.startswith(f"{broken / 'red-flags.yaml'}: ")
    assert "version 'v1' must be semantic (MAJOR.MINOR.PATCH)" in message
    assert "source.url 'doi.org/x' must be an absolute https URL" in message
    assert "grading.strenght is not a known key; allowed: quality, source, strength" in message


def test_missing_card_file_is_a_content_error(broken: Path) -> None:
    (broken / "pt-first-line.yaml").unlink()
    with pytest.raises(ContentError, match=r"missing content file\(s\) pt-first-line\.yaml"):
        load_card_library(broken)


def test_misnamed_card_file_is_a_content_error(broken: Path) -> None:
    (broken / "pt-first-line.yaml").rename(broken / "pt-firstline.yaml")
    with pytest.raises(ContentError, match=r"unexpected card file\(s\) pt-firstline\.yaml"):
        load_card_library(broken)


def test_invalid_yaml_is_a_content_error(broken: Path) -> None:
    (broken / "red-flags.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"red-flags\.yaml: not valid YAML"):
        load_card_library(broken)


def test_card_file_that_is_not_a_mapping_is_a_content_error(broken: Path) -> None:
    (broken / "red-flags.yaml").write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"red-flags\.yaml: must hold a YAML mapping"):
        load_card_library(broken)


def test_missing_folder_is_a_content_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="does not exist"):
        load_card_library(tmp_path / "nowhere")
