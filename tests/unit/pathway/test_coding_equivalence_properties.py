"""Never-do properties of dual coding (revision-2 §3, issue 17 item 2), over generated records and every fixture.

- A coding that matches nothing never changes the advice: a resource matches when ANY of its codings does, so an
  EHR's own local code beside the standard ones neither hides nor creates a card.
- Equivalent spellings never change the advice: system OIDs or ``https`` instead of the canonical URIs,
  ICD-10-CM without its dot, NDC in its 11-digit form.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date
from pathlib import Path
from random import Random
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import settings

from service.fhir.coding import CPT
from service.fhir.coding import ICD10CM
from service.fhir.coding import LOINC
from service.fhir.coding import NDC
from service.fhir.coding import RXNORM
from service.fhir.coding import SNOMED
from service.fhir.coding import Coding
from service.fhir.coding import canonical_system
from service.fhir.record import PatientRecord
from service.pathway import Moment
from service.pathway import evaluate
from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR
from tests.unit.pathway.test_pathway_properties import ALL_CODINGS
from tests.unit.pathway.test_pathway_properties import moments
from tests.unit.pathway.test_pathway_properties import random_record
from tests.unit.pathway.test_pathway_properties import seeded
from tests.unit.pathway.test_pathway_properties import todays

#: An EHR's own code system (Epic-style OID), in no value set; sent without a display so no name can match.
LOCAL = Coding("urn:oid:1.2.840.114350.1.13.0.1.7.2.698288", "LOCAL-1")
OIDS = {
    SNOMED: "urn:oid:2.16.840.1.113883.6.96",
    ICD10CM: "urn:oid:2.16.840.1.113883.6.90",
    RXNORM: "urn:oid:2.16.840.1.113883.6.88",
    LOINC: "urn:oid:2.16.840.1.113883.6.1",
    CPT: "urn:oid:2.16.840.1.113883.6.12",
    NDC: "urn:oid:2.16.840.1.113883.6.69",
}


def _summary(advice: Any) -> list[tuple[str, str]]:
    return [(item.recommendation.value, item.indicator.value) for item in advice]


def _with_local_codings(record: PatientRecord) -> PatientRecord:
    def extended(items: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(dataclasses.replace(item, codings=(*item.codings, LOCAL)) for item in items)

    return dataclasses.replace(
        record,
        conditions=extended(record.conditions),
        procedures=extended(record.procedures),
        service_requests=extended(record.service_requests),
        medication_requests=extended(record.medication_requests),
        observations=extended(record.observations),
        draft_orders=extended(record.draft_orders),
    )


@settings(max_examples=50, deadline=None, database=None)
@given(seeded, moments, todays)
def test_an_unrelated_extra_coding_never_changes_the_advice(rng: Random, moment: Moment, today: date) -> None:
    record = random_record(rng, ALL_CODINGS)
    assert _summary(evaluate(_with_local_codings(record), moment, today)) == _summary(
        evaluate(record, moment, today)
    )


# ------------------------------------------------------------------------------------------------ fixtures


def _respelled(value: Any) -> Any:
    """``value`` with every coding of a standard system re-spelled (OID, dot-less ICD-10-CM, 11-digit NDC) and a
    local coding added to every list of codings of a concept."""
    if isinstance(value, list):
        return [_respelled(item) for item in value]
    if not isinstance(value, dict):
        return value
    result = {key: _respelled(item) for key, item in value.items()}
    system = canonical_system(value.get("system")) if isinstance(value.get("system"), str) else None
    code = value.get("code")
    if system in OIDS and isinstance(code, str):
        result["system"] = OIDS[system]
        if system == ICD10CM:
            result["code"] = code.replace(".", "")
        if system == NDC:
            parts = code.split("-")
            if len(parts) == 3 and all(part.isdigit() for part in parts):
                result["code"] = "".join(part.zfill(width) for part, width in zip(parts, (5, 4, 2), strict=True))
    codings = result.get("coding")
    if isinstance(codings, list) and any(isinstance(c, dict) and canonical_system(c.get("system")) in OIDS
                                         for c in value.get("coding", [])):
        result["coding"] = [*codings, {"system": LOCAL.system, "code": LOCAL.code}]
    return result


SCENARIOS = [s for s in iter_scenarios(FIXTURES_DIR) if not s.server_resources and s.expect.status == 200]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.path.stem)
def test_equivalent_spellings_and_local_codings_give_the_same_cards(client: FlaskClient, scenario: Any) -> None:
    rolled = scenario.rolled_to(scenario.reference_date)
    path = f"/cds-services/{rolled.service}"
    original = client.post(path, json=rolled.request)
    respelled = client.post(path, json=_respelled(copy.deepcopy(rolled.request)))
    assert (original.status_code, respelled.status_code) == (200, 200)

    def cards(body: Any) -> list[tuple[str, str]]:
        return sorted((card["source"]["topic"]["code"], card["indicator"]) for card in body["cards"])

    assert cards(respelled.get_json()) == cards(original.get_json())


def test_the_respelling_reaches_the_fixtures() -> None:
    changed = [s.path for s in SCENARIOS if _respelled(copy.deepcopy(s.request)) != s.request]
    assert len(SCENARIOS) > 20 and len(changed) >= 0.8 * len(SCENARIOS)
    assert all(isinstance(path, Path) for path in changed)
