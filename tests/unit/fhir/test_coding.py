"""Equivalent spellings of one code compare equal (service.fhir.coding.normalise)."""

from __future__ import annotations

import pytest

from service.fhir.coding import ICD10CM
from service.fhir.coding import NDC
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.fhir.coding import normalise


@pytest.mark.parametrize(
    ("system", "code", "same_as"),
    [
        ("urn:oid:2.16.840.1.113883.6.90", "G4486", (ICD10CM, "G44.86")),
        ("https://hl7.org/fhir/sid/icd-10-cm", "g44.86", (ICD10CM, "G44.86")),
        ("urn:oid:2.16.840.1.113883.6.96", "37796009", (SNOMED, "37796009")),
        ("urn:oid:2.16.840.1.113883.6.88", "856907", (RXNORM, "856907")),
        ("urn:oid:2.16.840.1.113883.6.69", "16590-619-30", (NDC, "16590061930")),
        ("https://hl7.org/fhir/sid/ndc", "16590-0619-30", (NDC, "16590-619-30")),
        (NDC, "0002-3227-30", (NDC, "00002322730")),
        (NDC, "12345-6789-1", (NDC, "12345678901")),
        (NDC, "16590061930", (NDC, "16590-619-30")),
    ],
)
def test_equivalent_spellings_normalise_alike(system: str, code: str, same_as: tuple[str, str]) -> None:
    assert normalise(system, code) == normalise(*same_as)


@pytest.mark.parametrize("code", ["1659061930", "12345-678-9", "16590-619", "ABCDE-619-30"])
def test_ambiguous_or_malformed_ndcs_are_compared_as_sent(code: str) -> None:
    coding = normalise(NDC, code)
    assert coding is not None and coding.code == code
