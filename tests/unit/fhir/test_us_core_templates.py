"""Every prefetch template is a search a US Core 6.1.0 server SHALL support (issue 16).

The table below is taken from US Core 6.1.0: the "Mandatory Search Parameters" of each profile page, which
the US Core Server CapabilityStatement (``CapabilityStatement-us-core-server``) lists as SHALL search
parameter combinations. It was written by hand from those pages, not generated from the package:
``docs/ehr-integration.md`` §1 says what was checked and how. A template that strays (a ``_sort``,
a ``_count``, a ``status`` filter US Core does not pair with ``patient``, an Observation search by patient
alone) fails here before an EHR answers it with a 400.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import pytest

import service.pathway
from service.fhir.coding import Coding
from service.fhir.prefetch import ESSENTIAL_KEYS
from service.fhir.prefetch import OBSERVATION_CODES
from service.fhir.prefetch import PREFETCH_TEMPLATES
from service.pathway import observation_is_used
from service.pathway.facts import _OBSERVATION_SETS
from service.pathway.terminology import ValueSetId
from service.services import SERVICES

#: US Core 6.1.0, SHALL search parameter combinations per resource type (``read`` = instance read by id).
US_CORE_6_1_SHALL: dict[str, tuple[frozenset[str], ...]] = {
    "Patient": (
        frozenset({"read"}),
        frozenset({"_id"}),
        frozenset({"identifier"}),
        frozenset({"name"}),
        frozenset({"birthdate", "name"}),
        frozenset({"gender", "name"}),
    ),
    "Condition": (frozenset({"patient"}), frozenset({"patient", "category"})),
    "Procedure": (frozenset({"patient"}), frozenset({"patient", "date"})),
    "Observation": (
        frozenset({"patient", "category"}),
        frozenset({"patient", "code"}),
        frozenset({"patient", "category", "date"}),
    ),
    "MedicationRequest": (frozenset({"patient", "intent"}), frozenset({"patient", "intent", "status"})),
    "ServiceRequest": (
        frozenset({"_id"}),
        frozenset({"patient"}),
        frozenset({"patient", "category"}),
        frozenset({"patient", "code"}),
        frozenset({"patient", "category", "authored"}),
    ),
    "Encounter": (
        frozenset({"_id"}),
        frozenset({"identifier"}),
        frozenset({"patient"}),
        frozenset({"date", "patient"}),
    ),
}

#: Parameters whose comma-separated values (multipleOr) US Core 6.1.0 requires servers to support.
#: ``code`` on Observation is SHOULD, not SHALL: a server without it answers 400, the key is then optional.
MULTIPLE_OR_SHALL = {("MedicationRequest", "intent")}
MULTIPLE_OR_SHOULD = {("Observation", "code")}


def _combination(template: str) -> tuple[str, frozenset[str], dict[str, str]]:
    parts = urlsplit(template)
    path = parts.path.strip("/").split("/")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if len(path) == 2:
        assert not params, f"a read takes no parameters: {template}"
        return path[0], frozenset({"read"}), params
    assert len(path) == 1, template
    return path[0], frozenset(params), params


@pytest.mark.parametrize(("key", "template"), sorted(PREFETCH_TEMPLATES.items()))
def test_template_is_a_us_core_shall_combination(key: str, template: str) -> None:
    resource_type, combination, params = _combination(template)
    assert combination in US_CORE_6_1_SHALL[resource_type], f"{key}: {sorted(combination)} for {resource_type}"
    for name, value in params.items():
        if "," in value:
            assert (resource_type, name) in MULTIPLE_OR_SHALL | MULTIPLE_OR_SHOULD, f"{key}: {name} is or-ed"


def test_the_table_rejects_what_the_old_templates_asked() -> None:
    """The check can fail: the pre-issue-16 Observation and MedicationRequest templates are outside it."""
    for old in (
        "Observation?patient={{context.patientId}}&_sort=-date&_count=100",
        "MedicationRequest?patient={{context.patientId}}&status=active,draft&_count=100",
        "Observation?patient={{context.patientId}}",
    ):
        resource_type, combination, _ = _combination(old)
        assert combination not in US_CORE_6_1_SHALL[resource_type]


def _json(vs_id: ValueSetId) -> dict[str, Any]:
    path = Path(service.pathway.__file__).parent / "valuesets" / f"{vs_id.value}.json"
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


def test_observation_codes_are_exactly_those_the_pathway_reads() -> None:
    listed = {Coding(system, code) for system, code in OBSERVATION_CODES}
    read = {
        Coding(include["system"], concept["code"])
        for vs_id in _OBSERVATION_SETS
        for include in _json(vs_id)["compose"]["include"]
        for concept in include["concept"]
    }
    assert listed == read
    assert all(observation_is_used((coding,)) for coding in listed)


def test_every_service_declares_the_templates() -> None:
    for cds_service in SERVICES:
        assert dict(cds_service.prefetch) == dict(PREFETCH_TEMPLATES)
    assert ESSENTIAL_KEYS == {"patient", "conditions"}
