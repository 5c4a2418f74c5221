"""The safety name fallback of the value sets (revision 2 §3): whole words and phrases only, never family
history or screening wording, and only where the resource has no coding of the deciding systems."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import ContentError
from service.fhir.coding import ICD10CM
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.fhir.coding import normalise
from service.pathway.terminology import NAME_MATCH_URL
from service.pathway.terminology import has_coding_in
from service.pathway.terminology import parse_value_set

CONFIDENCE = {"url": "http://cgh-cds.example.org/fhir/StructureDefinition/code-confidence", "valueCode": "V"}
CATEGORY = "http://cgh-cds.example.org/fhir/StructureDefinition/valueset-category"


def _names(*terms: str) -> list[dict[str, Any]]:
    return [{"url": NAME_MATCH_URL, "valueString": term} for term in terms]


def _value_set() -> Any:
    return parse_value_set(
        {
            "resourceType": "ValueSet",
            "id": "test-names",
            "url": "http://cgh-cds.example.org/fhir/ValueSet/test-names",
            "compose": {
                "include": [
                    {
                        "system": ICD10CM,
                        "extension": [
                            {"url": CATEGORY, "valueCoding": {"code": "tia", "display": "transient ischaemic attack"}},
                            *_names("TIA", "transient ischemic attack"),
                        ],
                        "filter": [{"property": "concept", "op": "is-a", "value": "G45", "extension": [CONFIDENCE]}],
                    },
                    {
                        "system": RXNORM,
                        "extension": [{"url": CATEGORY, "valueCoding": {"code": "opioid", "display": "opioid"}}],
                        "concept": [
                            {"code": "7804", "display": "oxycodone", "extension": [CONFIDENCE, *_names("OxyContin")]}
                        ],
                    },
                ]
            },
        },
        "test-names.json",
    )


@pytest.mark.parametrize(
    ("text", "term", "category"),
    [
        ("TIA 2019", "TIA", "tia"),
        ("history of tia", "TIA", "tia"),
        ("Transient   ischemic\tattack", "transient ischemic attack", "tia"),
        ("post-TIA clinic", "TIA", "tia"),
        ("OXYCONTIN 10 mg ER tablet", "OxyContin", "opioid"),
    ],
)
def test_whole_words_and_phrases_hit(text: str, term: str, category: str) -> None:
    hit = _value_set().name_hit(text)
    assert hit is not None
    assert (hit.term, hit.group.category) == (term, category)


@pytest.mark.parametrize(
    "text",
    [
        "dementia",  # "tia" inside another word
        "tiara",
        "ischemic attack",  # part of a phrase is not the phrase
        "Family history of TIA",
        "FHx: TIA in father",
        "Mother has TIA",
        "Screening for TIA risk",
        "oxycontinx",
        "",
        None,
    ],
)
def test_other_words_family_history_and_screening_do_not_hit(text: str | None) -> None:
    assert _value_set().name_hit(text) is None


def test_the_first_text_that_names_a_term_wins() -> None:
    hit = _value_set().name_hit(None, "family history of TIA", "on OxyContin")
    assert hit is not None and hit.term == "OxyContin"


def test_terms_are_listed_for_review() -> None:
    terms = {term for term, _group in _value_set().name_terms()}
    assert terms == {"TIA", "transient ischemic attack", "OxyContin"}
    oxycodone = next(entry for entry in _value_set().entries() if entry.code == "7804")
    assert oxycodone.names == ("OxyContin",)


def test_an_empty_name_term_is_refused_naming_the_file() -> None:
    with pytest.raises(ContentError, match="test-empty.json.*name-match"):
        parse_value_set(
            {
                "resourceType": "ValueSet",
                "id": "test-empty",
                "url": "http://cgh-cds.example.org/fhir/ValueSet/test-empty",
                "compose": {
                    "include": [
                        {
                            "system": ICD10CM,
                            "extension": _names(" "),
                            "concept": [{"code": "G45.9", "extension": [CONFIDENCE]}],
                        }
                    ]
                },
            },
            "test-empty.json",
        )


def test_fallback_applies_only_without_a_deciding_coding() -> None:
    snomed = normalise(SNOMED, "266257000")
    local = normalise("http://hospital.example.org/problems", "123")
    assert snomed is not None and local is not None
    assert has_coding_in((local, snomed), (ICD10CM, SNOMED))
    assert not has_coding_in((local,), (ICD10CM, SNOMED))
    assert not has_coding_in((), (RXNORM,))
