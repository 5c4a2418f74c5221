"""Active competing diagnoses (revision-2 C13, C14)."""

from __future__ import annotations

from datetime import date

from service.fhir.record import PatientRecord
from service.pathway.facts.findings import Finding
from service.pathway.facts.findings import _condition_findings
from service.pathway.facts.findings import _unique
from service.pathway.facts.status import is_active
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import value_set

_DIFFERENTIAL_SETS = (
    ValueSetId.DIFFERENTIAL_SIH,
    ValueSetId.DIFFERENTIAL_MEDICATION_OVERUSE,
    ValueSetId.DIFFERENTIAL_MIGRAINE,
    ValueSetId.DIFFERENTIAL_TENSION_TYPE,
    ValueSetId.DIFFERENTIAL_POTS,
    ValueSetId.DIFFERENTIAL_ORTHOSTATIC_HYPOTENSION,
)


#: Category codes of the differential value sets that change the card (notes ``orthostatic``, ``migraine``).
SIH = "sih"
MIGRAINE = "migraine"
MEDICATION_OVERUSE = "medication-overuse"


def differentials(record: PatientRecord, today: date) -> tuple[Finding, ...]:
    """Active competing diagnoses (docs/clinical/reference.md §1.9, R3; revision-2 C13, C14), in a stable order (SIH,
    medication overuse, migraine, tension-type, POTS, orthostatic hypotension)."""
    active = [c for c in record.conditions if is_active(c, today)]
    findings: list[Finding] = []
    for vs_id in _DIFFERENTIAL_SETS:
        findings.extend(_condition_findings(active, value_set(vs_id)))
    return _unique(findings)
