"""The terminology review report: every concept of every value set, as the clinical owner reviews it.

One row per concept or ``is-a`` family: value set, system, code, display (and whether it is our plain label),
confidence and what it means, the source of the verification, the rules that use the value set
(:mod:`service.governance.usage`) and the name-match terms (``ConceptEntry.names`` and the terms that name the
concept's group, ``ValueSet.include_terms``). ``cgh-cds terminology`` prints it; the governance page links it.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from service import canonical
from service.fhir.coding import CPT
from service.fhir.coding import HCPCS
from service.fhir.coding import ICD10
from service.fhir.coding import ICD10CM
from service.fhir.coding import LOINC
from service.fhir.coding import NDC
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.governance.usage import RuleRef
from service.governance.usage import rules_by_value_set
from service.pathway.terminology import CMS_RELEASE
from service.pathway.terminology import CONFIDENCE_MEANINGS
from service.pathway.terminology import CONFIDENCE_SOURCES
from service.pathway.terminology import UNVERIFIED_LABELS
from service.pathway.terminology import ValueSet
from service.pathway.terminology import all_value_sets

_SYSTEM_NAMES: Mapping[str, str] = {
    SNOMED: "SNOMED CT",
    ICD10CM: "ICD-10-CM",
    ICD10: "ICD-10",
    RXNORM: "RxNorm",
    LOINC: "LOINC",
    CPT: "CPT",
    HCPCS: "HCPCS",
    NDC: "NDC",
}
_LOCAL = "local"
_NO_RULE = "none (no rule reads it)"


class ReportFormat(StrEnum):
    MARKDOWN = "md"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class ReportRow:
    value_set: str
    system: str
    code: str
    family: bool
    display: str
    plain_label: bool
    confidence: str
    meaning: str
    source: str
    rules: tuple[str, ...]
    names: tuple[str, ...]
    group_names: tuple[str, ...]

    @property
    def system_name(self) -> str:
        if self.system.startswith(canonical.BASE + "/"):
            return f"{_LOCAL} ({self.system.rsplit('/', 1)[-1]})"
        return _SYSTEM_NAMES.get(self.system, self.system)


def _rows_of(value_set: ValueSet, rules: tuple[RuleRef, ...]) -> list[ReportRow]:
    rule_labels = tuple(ref.label for ref in rules) or (_NO_RULE,)
    rows = []
    for entry in value_set.entries():
        own = set(entry.names)
        concept_names_of_include = {
            name for other in value_set.entries() if other.include == entry.include for name in other.names
        }
        rows.append(
            ReportRow(
                value_set=value_set.id,
                system=entry.system,
                code=entry.code,
                family=entry.family,
                display=entry.display or "",
                plain_label=entry.plain_label,
                confidence=entry.confidence,
                meaning=CONFIDENCE_MEANINGS.get(entry.confidence, entry.confidence),
                source=CONFIDENCE_SOURCES.get(entry.confidence, ""),
                rules=rule_labels,
                names=tuple(sorted(own, key=str.casefold)),
                group_names=tuple(
                    term
                    for term in value_set.include_terms(entry.include)
                    if term not in concept_names_of_include
                ),
            )
        )
    return rows


def report_rows(value_sets: Mapping[str, ValueSet] | None = None) -> list[ReportRow]:
    """Every concept and family of every value set (default: the packaged ones), by value set id."""
    loaded = value_sets if value_sets is not None else all_value_sets()
    users = rules_by_value_set()
    rows: list[ReportRow] = []
    for vs_id in sorted(loaded):
        rows.extend(_rows_of(loaded[vs_id], users.get(vs_id, ())))
    return rows


def unverified_by_system(rows: Iterable[ReportRow]) -> Counter[str]:
    """How many entries remain unverified (recalled), by system."""
    return Counter(row.system_name for row in rows if row.confidence in UNVERIFIED_LABELS)


CSV_COLUMNS = (
    "value_set",
    "system",
    "system_uri",
    "code",
    "family",
    "display",
    "display_is_plain_label",
    "confidence",
    "confidence_meaning",
    "verification_source",
    "rules",
    "name_match_terms",
    "group_name_match_terms",
)


def render_csv(rows: Iterable[ReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.value_set,
                row.system_name,
                row.system,
                row.code,
                "is-a" if row.family else "",
                row.display,
                "yes" if row.plain_label else "",
                row.confidence,
                row.meaning,
                row.source,
                "; ".join(row.rules),
                "; ".join(row.names),
                "; ".join(row.group_names),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(rows: list[ReportRow], value_sets: Mapping[str, ValueSet] | None = None) -> str:
    loaded = value_sets if value_sets is not None else all_value_sets()
    unverified = unverified_by_system(rows)
    by_confidence = Counter(row.meaning for row in rows)
    lines = [
        "# Terminology review",
        "",
        f"{len(rows)} entries (concepts and is-a families) in {len({row.value_set for row in rows})} value sets. "
        f"ICD-10-CM is verified offline against {CMS_RELEASE}.",
        "",
        "Unverified (recalled) entries by system: "
        + (", ".join(f"{name} {count}" for name, count in sorted(unverified.items())) or "none")
        + ".",
        "",
        "| confidence | meaning | entries | source of the verification |",
        "|---|---|---|---|",
    ]
    for label, meaning in CONFIDENCE_MEANINGS.items():
        source = _cell(CONFIDENCE_SOURCES[label])
        lines.append(f"| `{label}` | {meaning} | {by_confidence.get(meaning, 0)} | {source} |")
    current = None
    for row in rows:
        if row.value_set != current:
            current = row.value_set
            value_set = loaded.get(current)
            title = value_set.title if value_set is not None else current
            lines += [
                "",
                f"## {current}: {_cell(title)}",
                "",
                "Rules: " + ", ".join(row.rules) + ".",
                "",
                "| system | code | display | confidence | name-match terms |",
                "|---|---|---|---|---|",
            ]
        code = f"`{row.code}`" + (" (is-a)" if row.family else "")
        display = _cell(row.display) + (" *(our plain label)*" if row.plain_label else "")
        names = ", ".join([*row.names, *(f"{term} (group)" for term in row.group_names)])
        lines.append(f"| {_cell(row.system_name)} | {code} | {display} | {row.meaning} | {_cell(names)} |")
    return "\n".join(lines) + "\n"


def render(report_format: ReportFormat, value_sets: Mapping[str, ValueSet] | None = None) -> str:
    """The report of ``value_sets`` (default: the packaged ones) in ``report_format``."""
    rows = report_rows(value_sets)
    if report_format is ReportFormat.CSV:
        return render_csv(rows)
    return render_markdown(rows, value_sets)
