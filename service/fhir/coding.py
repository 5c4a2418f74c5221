"""Codings normalised for matching: canonical system URIs and codes in one comparable form.

Real EHR data names the same code system several ways (OIDs, http/https, trailing slashes) and writes
ICD-10-CM with and without the dot (docs/clinical/reference.md §1, implementation note), and NDCs in their
10-digit hyphenated or 11-digit billing form. Everything that compares codes goes through :func:`normalise`,
so value-set membership is a plain set lookup.
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
NDC = "http://hl7.org/fhir/sid/ndc"

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
    "urn:oid:2.16.840.1.113883.6.69": NDC,
    "https://hl7.org/fhir/sid/ndc": NDC,
}

#: Systems whose codes are compared without dots and in upper case.
_DOTLESS_SYSTEMS = frozenset({ICD10CM, ICD10})
_UPPERCASE_SYSTEMS = frozenset({ICD10CM, ICD10, HCPCS, CPT})
#: The 11-digit (5-4-2) billing form of an NDC: a hyphenated 10-digit NDC (4-4-2, 5-3-2 or 5-4-1) gets a leading
#: zero in its short segment. An unhyphenated 10-digit NDC is ambiguous and is compared as sent.
_NDC_SEGMENTS = (5, 4, 2)


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
    if system == NDC:
        value = _ndc_11(value)
    return value


def _ndc_11(code: str) -> str:
    segments = code.split("-")
    if len(segments) != len(_NDC_SEGMENTS) or not all(part.isdigit() for part in segments):
        return code
    widths = tuple(len(part) for part in segments)
    ten_digit = sum(widths) == 10 and all(w <= m for w, m in zip(widths, _NDC_SEGMENTS, strict=True))
    if widths != _NDC_SEGMENTS and not ten_digit:
        return code
    return "".join(part.zfill(width) for part, width in zip(segments, _NDC_SEGMENTS, strict=True))


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
