"""The value sets and their loader: structure, validation errors, membership, flags, medication fallback.

Also guards our rule that Python code never carries a clinical code literal: every string constant in
``service/pathway/*.py`` is checked against the codes of every value set.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from service.errors import ContentError
from service.fhir.coding import CPT
from service.fhir.coding import HCPCS
from service.fhir.coding import ICD10CM
from service.fhir.coding import LOINC
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.fhir.coding import normalise
from service.pathway.terminology import CONFIDENCE_URL
from service.pathway.terminology import ValueSetId as VS
from service.pathway.terminology import all_value_sets
from service.pathway.terminology import load_value_sets
from service.pathway.terminology import parse_value_set
from service.pathway.terminology import value_set
from tests.unit.pathway.builders import family

PATHWAY = Path(__file__).resolve().parents[3] / "service" / "pathway"
FOLDER = PATHWAY / "valuesets"


def _valid() -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "id": "example",
        "url": "http://cgh-cds.example.org/fhir/ValueSet/example",
        "compose": {
            "include": [
                {
                    "system": ICD10CM,
                    "concept": [{"code": "G44.86", "extension": [{"url": CONFIDENCE_URL, "valueCode": "V"}]}],
                }
            ]
        },
    }


def test_every_value_set_id_is_packaged_and_valid() -> None:
    loaded = all_value_sets()
    assert {vs.value for vs in VS} <= set(loaded)
    assert {path.stem for path in FOLDER.glob("*.json")} == set(loaded)


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.json")), ids=lambda p: p.stem)
def test_each_file_is_a_fhir_valueset_listing_its_systems(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    assert body["resourceType"] == "ValueSet" and body["id"] == path.stem and body["status"] == "draft"
    assert body["url"].endswith(f"/ValueSet/{path.stem}")
    for include in body["compose"]["include"]:
        assert include["system"], "every include names the system it accepts"
        for concept in include.get("concept", []):
            assert concept["code"] and concept["extension"][0]["url"] == CONFIDENCE_URL
    assert all_value_sets()[path.stem].systems == {include["system"] for include in body["compose"]["include"]}


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda b: b.update(resourceType="CodeSystem"), "resourceType"),
        (lambda b: b.pop("url"), "'id' and 'url'"),
        (lambda b: b["compose"].update(include=[]), "non-empty"),
        (lambda b: b["compose"]["include"][0].pop("system"), "no system"),
        (lambda b: b["compose"]["include"][0]["concept"][0].pop("code"), "without a code"),
        (lambda b: b["compose"]["include"][0]["concept"][0].pop("extension"), "code-confidence"),
        (lambda b: b["compose"]["include"][0].update(concept=[], filter=[]), "'concept' or 'filter'"),
        (
            lambda b: b["compose"]["include"][0].update(filter=[{"property": "concept", "op": "regex", "value": "G"}]),
            "is-a",
        ),
        (
            lambda b: b["compose"]["include"][0].update(
                system=SNOMED,
                filter=[
                    {
                        "property": "concept",
                        "op": "is-a",
                        "value": "1",
                        "extension": [{"url": CONFIDENCE_URL, "valueCode": "R"}],
                    }
                ],
            ),
            "ICD-10",
        ),
    ],
)
def test_invalid_value_sets_fail_with_content_error(mutate: Any, problem: str) -> None:
    body = _valid()
    mutate(body)
    with pytest.raises(ContentError, match=problem):
        parse_value_set(body, "example.json")


def test_loader_rejects_id_not_matching_file_and_missing_value_sets(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text(json.dumps(_valid()), encoding="utf-8")
    with pytest.raises(ContentError, match="must equal the file name"):
        load_value_sets(tmp_path)
    (tmp_path / "other.json").unlink()
    (tmp_path / "example.json").write_text(json.dumps(_valid()), encoding="utf-8")
    with pytest.raises(ContentError, match="missing value sets"):
        load_value_sets(tmp_path)
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ContentError, match="cannot be read"):
        load_value_sets(tmp_path)


def test_membership_normalises_system_aliases_and_dotless_codes() -> None:
    specific = value_set(VS.CGH_DX_SPECIFIC)
    for system, code in [
        (ICD10CM, "G44.86"),
        (ICD10CM, "G4486"),
        ("urn:oid:2.16.840.1.113883.6.90", "g44.86"),
        ("http://hl7.org/fhir/sid/icd-10-cm/", " G44.86 "),
    ]:
        coding = normalise(system, code)
        assert coding is not None and specific.contains(coding), (system, code)
    assert not specific.contains(normalise(SNOMED, "G44.86"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "vs_id, code, member",
    [
        (VS.DIFFERENTIAL_MIGRAINE, "G43.709", True),
        (VS.DIFFERENTIAL_MIGRAINE, "G44.209", False),
        (VS.RED_FLAGS, "C71.1", True),
        (VS.MALIGNANCY_HISTORY, "Z85.3", True),
        (VS.RED_FLAGS_RECENT, "I63.02", True),
        (VS.PREGNANCY, "O99.89", True),
        (VS.PREGNANCY, "Z3A.24", True),
        (VS.RECENT_TRAUMA, "S12.000A", True),
        (VS.RECENT_TRAUMA, "S13.100A", True),
        (VS.MANIPULATION_CONTRAINDICATIONS, "Q79.62", True),
        (VS.MANIPULATION_HISTORY_CONTRAINDICATIONS, "Q90.9", True),
        (VS.MANIPULATION_CONTRAINDICATIONS, "M05.79", True),
        (VS.MANIPULATION_CONTRAINDICATIONS, "M47.16", True),
        (VS.MANIPULATION_CONTRAINDICATIONS, "M50.021", True),
        (VS.MANIPULATION_CONTRAINDICATIONS, "M46.25", True),
        (VS.MANIPULATION_CONTRAINDICATIONS, "M47.20", False),
        (VS.HEADACHE_SYMPTOMS, "R51.0", False),
        (VS.DIFFERENTIAL_SIH, "G96.01", True),
    ],
)
def test_icd10cm_families_match_by_prefix(vs_id: VS, code: str, member: bool) -> None:
    coding = normalise(ICD10CM, code)
    assert coding is not None and value_set(vs_id).contains(coding) is member


def test_family_tier_and_category_are_reported() -> None:
    groups = value_set(VS.MANIPULATION_CONTRAINDICATIONS).groups(
        family(VS.MANIPULATION_CONTRAINDICATIONS, ICD10CM, "M05.79")
    )
    assert [(g.category, g.tier) for g in groups] == [("inflammatory-arthritis", "relative")]


@pytest.mark.parametrize(
    "vs_id, system, code",
    [
        (VS.DIFFERENTIAL_MIGRAINE, SNOMED, "124171000119105"),
        (VS.MANIPULATION_CONTRAINDICATIONS, SNOMED, "69896004"),
        (VS.MANIPULATION_CONTRAINDICATIONS, SNOMED, "64859006"),
        (VS.RECENT_TRAUMA, SNOMED, "39848009"),
        (VS.CERVICAL_DISORDERS, SNOMED, "39848009"),
        (VS.NSAIDS, RXNORM, "849574"),
        (VS.NSAIDS, RXNORM, "198014"),
        (VS.ANTICOAGULANTS, RXNORM, "855332"),
        (VS.ANTICOAGULANTS, RXNORM, "1364430"),
        (VS.OPIOIDS, RXNORM, "7804"),
        (VS.OPIOIDS, RXNORM, "856980"),
        (VS.PARACETAMOL, RXNORM, "313782"),
        (VS.MANIPULATION, SNOMED, "46947000"),
        (VS.PT_EXERCISE, SNOMED, "91251008"),
        (VS.BOTULINUM_TOXIN, HCPCS, "J0585"),
        (VS.CERVICAL_SPINE_IMAGING, LOINC, "30667-0"),
        (VS.GON_BLOCK, CPT, "64405"),
    ],
)
def test_real_world_and_snomed_equivalents_are_in_the_right_sets(vs_id: VS, system: str, code: str) -> None:
    coding = normalise(system, code)
    assert coding is not None and value_set(vs_id).contains(coding)


def test_lumbar_and_extraspinal_codes_are_excluded() -> None:
    for vs_id, code in [(VS.PERCUTANEOUS, "64493"), (VS.PERCUTANEOUS, "62322"), (VS.MANIPULATION, "98943")]:
        assert not value_set(vs_id).contains(normalise(CPT, code))  # type: ignore[arg-type]


def test_medication_name_fallback_only_without_rxnorm_coding() -> None:
    nsaids = value_set(VS.NSAIDS)
    assert nsaids.matches_medication((), "NAPROXEN sodium 220 MG")
    # revision 2 §3: an RxNorm-coded medication is judged by its codes alone, not by its display.
    assert not nsaids.matches_medication((normalise(RXNORM, "999999", "Ibuprofen 800 MG Oral Tablet"),), None)  # type: ignore[arg-type]
    assert nsaids.matches_medication((normalise("http://hl7.org/fhir/sid/ndc", "0000-0000", "Ibuprofen 800 MG"),), None)  # type: ignore[arg-type]
    assert not nsaids.matches_medication((), "naproxenate-free")
    assert value_set(VS.PARACETAMOL).mentions("paracetamol 500mg")
    assert value_set(VS.ANTICOAGULANTS).mentions("Eliquis")
    assert not value_set(VS.OPIOIDS).mentions(None)


def test_gestational_weeks_are_carried_by_the_value_set() -> None:
    weeks = value_set(VS.GESTATIONAL_AGE)
    assert weeks.gestational_weeks(normalise(ICD10CM, "Z3A.20")) == 20  # type: ignore[arg-type]
    assert weeks.gestational_weeks(normalise(ICD10CM, "Z3A.01")) == 7  # type: ignore[arg-type]
    assert weeks.gestational_weeks(normalise(ICD10CM, "Z3A.00")) is None  # type: ignore[arg-type]


def test_recalled_codes_are_flagged_for_terminology_review() -> None:
    flagged = {(e.system, e.code) for vs in all_value_sets().values() for e in vs.unverified()}
    assert (CPT, "64405") in flagged and (RXNORM, "1364430") in flagged and (CPT, "97110") in flagged
    assert (ICD10CM, "G44.86") not in flagged


def test_no_tbd_code_is_invented() -> None:
    confidences = {e.confidence for vs in all_value_sets().values() for e in vs.entries()}
    assert confidences <= {"V-cms", "V", "V-c", "R", "local"}
    assert not any(e.code.upper() == "TBD" for vs in all_value_sets().values() for e in vs.entries())


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value.strip()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    }


# rglob: the facts are a package of modules, each of which must hold no code literal either.
@pytest.mark.parametrize("path", sorted(PATHWAY.rglob("*.py")), ids=lambda p: str(p.relative_to(PATHWAY)))
def test_no_clinical_code_literal_in_pathway_python(path: Path) -> None:
    codes = {
        e.code.replace(".", "").upper()
        for vs in all_value_sets().values()
        for e in vs.entries()
        if not e.family and e.system != "http://cgh-cds.example.org/fhir/CodeSystem/outcome"
    }
    literals = {s.replace(".", "").upper() for s in _string_constants(path)}
    assert not codes & literals, f"clinical code literal(s) in {path.name}: {sorted(codes & literals)}"


def test_observation_is_used_only_for_the_observations_rules_read() -> None:
    from service.fhir.coding import LOINC
    from service.fhir.coding import Coding
    from service.pathway import observation_is_used
    from service.pathway.terminology import ValueSetId
    from service.pathway.terminology import value_set

    for vs_id in (ValueSetId.HEADACHE_FREQUENCY_OBSERVATION, ValueSetId.TREATMENT_RESPONSE_OBSERVATION,
                  ValueSetId.BLOCK_RELIEF_OBSERVATION, ValueSetId.PREGNANCY_STATUS_OBSERVATION):
        entry = value_set(vs_id).entries()[0]
        assert observation_is_used((Coding(entry.system, entry.code),)), vs_id
    heart_rate = Coding(LOINC, "8867-4")
    assert not observation_is_used((heart_rate,))
    assert not observation_is_used(())
