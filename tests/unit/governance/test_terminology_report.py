"""The terminology review report (service.governance.terminology_report) and ``cgh-cds terminology``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from service import canonical
from service.cli import main
from service.fhir.coding import ICD10CM
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.governance.terminology_report import CSV_COLUMNS
from service.governance.terminology_report import ReportFormat
from service.governance.terminology_report import render
from service.governance.terminology_report import render_markdown
from service.governance.terminology_report import report_rows
from service.pathway.terminology import CMS_RELEASE
from service.pathway.terminology import CONFIDENCE_URL
from service.pathway.terminology import NAME_MATCH_URL
from service.pathway.terminology import PLAIN_LABEL_URL
from service.pathway.terminology import all_value_sets
from service.pathway.terminology import parse_value_set


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_lists_every_concept_of_every_value_set() -> None:
    rows = _csv(render(ReportFormat.CSV))
    expected = sorted(
        (vs.id, entry.system, entry.code) for vs in all_value_sets().values() for entry in vs.entries()
    )
    assert sorted((row["value_set"], row["system_uri"], row["code"]) for row in rows) == expected
    assert list(rows[0]) == list(CSV_COLUMNS)


def test_rows_carry_confidence_source_and_rules() -> None:
    rows = {(row["value_set"], row["code"]): row for row in _csv(render(ReportFormat.CSV))}
    cgh = rows[("cgh-dx-specific", "G44.86")]
    assert (cgh["system"], cgh["confidence"], cgh["confidence_meaning"]) == ("ICD-10-CM", "V-cms", "verified offline")
    assert CMS_RELEASE in cgh["verification_source"]
    assert "R12 suspected-confirm-diagnosis" in cgh["rules"].split("; ")
    recalled = next(row for row in rows.values() if row["confidence"] == "R")
    assert recalled["confidence_meaning"] == "recalled" and recalled["verification_source"].startswith("none")
    local = next(row for row in rows.values() if row["system_uri"].startswith(canonical.CODE_SYSTEM_BASE))
    assert local["confidence_meaning"] == "local" and local["system"].startswith("local")
    family = rows[("differential-migraine", "G43")]
    assert family["family"] == "is-a"
    opioid_rules = {row["rules"] for (vs_id, _), row in rows.items() if vs_id == "opioids"}
    assert all("R8 medication-opioid" in rules for rules in opioid_rules)


def test_markdown_has_a_section_per_value_set_and_every_code() -> None:
    text = render(ReportFormat.MARKDOWN)
    assert text.startswith("# Terminology review\n")
    assert "Unverified (recalled) entries by system:" in text
    for vs in all_value_sets().values():
        assert f"\n## {vs.id}: " in text
        for entry in vs.entries():
            assert f"`{entry.code}`" in text, (vs.id, entry.code)


def _names_value_set() -> dict[str, Any]:
    confidence = {"url": CONFIDENCE_URL, "valueCode": "R"}
    return {
        "resourceType": "ValueSet",
        "id": "test-report",
        "url": canonical.value_set_url("test-report"),
        "title": "Report | test",
        "compose": {
            "include": [
                {
                    "system": SNOMED,
                    "extension": [{"url": NAME_MATCH_URL, "valueString": "vertebral artery dissection"}],
                    "concept": [{"code": "1", "display": "Dissection", "extension": [confidence]}],
                },
                {
                    "system": RXNORM,
                    "concept": [
                        {
                            "code": "2",
                            "display": "oxycodone",
                            "extension": [confidence, {"url": NAME_MATCH_URL, "valueString": "OxyContin"}],
                        }
                    ],
                },
                {
                    "system": ICD10CM,
                    "concept": [
                        {
                            "code": "M53.0",
                            "display": "Neck-related headache",
                            "extension": [
                                {"url": CONFIDENCE_URL, "valueCode": "V-cms"},
                                {"url": PLAIN_LABEL_URL, "valueBoolean": True},
                            ],
                        }
                    ],
                },
            ]
        },
    }


def test_name_match_terms_and_plain_labels_are_shown() -> None:
    value_sets = {"test-report": parse_value_set(_names_value_set(), "test-report.json")}
    rows = {row.code: row for row in report_rows(value_sets)}
    assert rows["1"].group_names == ("vertebral artery dissection",) and rows["1"].names == ()
    assert rows["2"].names == ("OxyContin",) and rows["2"].group_names == ()
    assert rows["M53.0"].plain_label and rows["M53.0"].meaning == "verified offline"
    assert rows["1"].rules == ("none (no rule reads it)",)
    text = render_markdown(list(rows.values()), value_sets)
    assert "vertebral artery dissection (group)" in text
    assert "| RxNorm | `2` | oxycodone | recalled | OxyContin |" in text
    assert "Neck-related headache *(our plain label)*" in text
    assert "## test-report: Report \\| test" in text
    assert "Unverified (recalled) entries by system: RxNorm 1, SNOMED CT 1." in text


@pytest.mark.parametrize(("option", "first_line"), [("md", "# Terminology review"), ("csv", ",".join(CSV_COLUMNS))])
def test_cli_prints_the_report(capsys: pytest.CaptureFixture[str], option: str, first_line: str) -> None:
    assert main(["terminology", "--format", option]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == first_line
    assert out == render(ReportFormat(option))


def test_cli_defaults_to_markdown_and_writes_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "review.md"
    assert main(["terminology", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render(ReportFormat.MARKDOWN)
    assert str(target) in capsys.readouterr().err


def test_cli_rejects_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["terminology", "--format", "pdf"])
    assert stopped.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
