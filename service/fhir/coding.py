"""Codings normalised for matching: canonical system URIs and codes in one comparable form.

Real EHR data names the same code system several ways (OIDs, http/https, trailing slashes) and writes
ICD-10-CM with and without the dot (docs/clinical/reference.md §1). Everything that compares codes
goes through :func:`normalise`, so value-set membership is a plain set lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
CPT = "http://www.ama-assn.org/go/cpt"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"

#: Spellings seen in real data for the systems the pathway matches on, mapped to the canonical URI.
SYSTEM_ALIASES: dict[str, str] = {
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "https://snomed.info/sct": SNOMED,
    "http://snomed.info/id": SNOMED,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "http://hl7.org/fhir/sid/icd-10-cm/": ICD10CM,
    "https://hl7.org/fhir/sid/icd-10-cm": ICD10CM,
    "http://www.icd10data.com/icd10cm": ICD10CM,
    "icd-10-cm": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.12": CPT,
    "http://www.ama-assn.org/go/cpt/": CPT,
    "https://www.ama-assn.org/go/cpt": CPT,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "https://loinc.org": LOINC,
    "http://loinc.org/": LOINC,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    "https://www.nlm.nih.gov/research/umls/rxnorm": RXNORM,
    "urn:oid:2.16.840.1.113883.6.285": HCPCS,
    "http://www.cms.gov/medicare/coding/hcpcsreleasecodesets": HCPCS,
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": HCPCS,
    "urn:oid:2.16.840.1.113883.6.14": HCPCS,
    "urn:oid:2.16.840.1.113883.6.3": ICD10,
}

#: Systems whose codes are compared without dots and in upper case.
_DOTLESS_SYSTEMS = frozenset({ICD10CM, ICD10})
_UPPERCASE_SYSTEMS = frozenset({ICD10CM, ICD10, HCPCS, CPT})


@dataclass(frozen=True, slots=True)
class Coding:
    """One (system, code) pair in normalised form, plus the display as sent (for explanations only)."""

    system: str
    code: str
    display: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.system, self.code)


def canonical_system(system: str | None) -> str:
    """The canonical URI for ``system`` (unknown systems are returned stripped, trailing slash removed)."""
    if not system:
        return ""
    stripped = system.strip()
    alias = SYSTEM_ALIASES.get(stripped) or SYSTEM_ALIASES.get(stripped.lower())
    if alias:
        return alias
    return stripped.rstrip("/")


def normalise_code(system: str, code: str) -> str:
    """``code`` in the form used for comparison within ``system`` (already canonical)."""
    value = code.strip()
    if system in _DOTLESS_SYSTEMS:
        value = value.replace(".", "")
    if system in _UPPERCASE_SYSTEMS:
        value = value.upper()
    return value


def normalise(system: Any, code: Any, display: Any = None) -> Coding | None:
    """A normalised :class:`Coding`, or ``None`` when the code is missing or blank.

    Arguments are raw JSON values: anything that is not a string counts as absent.
    """
    if not isinstance(code, str):
        return None
    return _normalised(
        system if isinstance(system, str) else None, code, display if isinstance(display, str) else None
    )


@lru_cache(maxsize=16384)
def _normalised(system: str | None, code: str, display: str | None) -> Coding | None:
    # Real records repeat a few concepts many times (Synthea: one LOINC code per vital sign): normalise once.
    if not code.strip():
        return None
    canonical = canonical_system(system)
    return Coding(canonical, normalise_code(canonical, code), display)
