"""Prefetch templates and CDS Hooks 2.0 token substitution."""

from __future__ import annotations

import re

import pytest

from service.fhir.prefetch import PREFETCH_TEMPLATES
from service.fhir.prefetch import UnfillableTokenError
from service.fhir.prefetch import substitute_tokens

CONTEXT = {"patientId": "p1", "userId": "Practitioner/doc-7", "encounterId": "e9"}


def test_templates_declare_the_seven_keys() -> None:
    assert set(PREFETCH_TEMPLATES) == {
        "patient",
        "conditions",
        "procedures",
        "servicerequests",
        "medicationrequests",
        "observations",
        "encounters",
    }
    assert PREFETCH_TEMPLATES["encounters"].startswith("Encounter?patient={{context.patientId}}")
    assert PREFETCH_TEMPLATES["patient"] == "Patient/{{context.patientId}}"


@pytest.mark.parametrize("key", sorted(PREFETCH_TEMPLATES))
def test_templates_use_only_cds_hooks_2_tokens(key: str) -> None:
    tokens = re.findall(r"\{\{(.*?)\}\}", PREFETCH_TEMPLATES[key])
    assert tokens == ["context.patientId"]
    assert "today" not in PREFETCH_TEMPLATES[key]


@pytest.mark.parametrize("key", sorted(PREFETCH_TEMPLATES))
def test_every_template_fills_from_a_patient_view_context(key: str) -> None:
    filled = substitute_tokens(PREFETCH_TEMPLATES[key], CONTEXT)
    assert "{{" not in filled
    assert "p1" in filled


def test_context_fields_and_user_tokens_are_substituted() -> None:
    template = "{{context.userId}}|{{userPractitionerId}}|{{ context.encounterId }}|{{context.patientId}}"
    assert substitute_tokens(template, CONTEXT) == "Practitioner/doc-7|doc-7|e9|p1"


def test_values_are_percent_encoded_for_urls() -> None:
    assert substitute_tokens("Condition?patient={{context.patientId}}", {"patientId": "a b&c=d"}) == (
        "Condition?patient=a%20b%26c%3Dd"
    )
    assert substitute_tokens("Patient/{{context.patientId}}", {"patientId": "draft\u2011rx"}) == (
        "Patient/draft%E2%80%91rx"
    )


@pytest.mark.parametrize(
    ("template", "context", "token"),
    [
        ("{{context.encounterId}}", {"patientId": "p1"}, "context.encounterId"),
        ("{{context.draftOrders}}", {"draftOrders": {"resourceType": "Bundle"}}, "context.draftOrders"),
        ("{{context.medication.id}}", {"medication": {"id": "m"}}, "context.medication.id"),
        ("{{userPractitionerRoleId}}", CONTEXT, "userPractitionerRoleId"),
        ("{{today() - 90 days}}", CONTEXT, "today() - 90 days"),
        ("{{context.patientId}}", {"patientId": "  "}, "context.patientId"),
    ],
)
def test_a_token_the_context_cannot_fill_raises(template: str, context: dict[str, object], token: str) -> None:
    with pytest.raises(UnfillableTokenError) as caught:
        substitute_tokens(template, context)
    assert caught.value.token == token


def test_unfillable_token_message_carries_no_context_values() -> None:
    with pytest.raises(UnfillableTokenError) as caught:
        substitute_tokens("{{userPatientId}}", {"userId": "Practitioner/secret-id"})
    assert "secret-id" not in str(caught.value)


@pytest.mark.parametrize("key", sorted(PREFETCH_TEMPLATES))
def test_the_fallback_asks_for_bigger_pages_and_keeps_every_other_parameter(key: str) -> None:
    from service.fhir import FALLBACK_PAGE_SIZE
    from service.fhir import fallback_query

    context = {"patientId": "p 1", "userId": "Practitioner/u1"}
    advertised = substitute_tokens(PREFETCH_TEMPLATES[key], context)
    sent = fallback_query(PREFETCH_TEMPLATES[key], context)
    assert fallback_query(PREFETCH_TEMPLATES[key], context, None) == advertised
    if "_count=" in advertised:
        assert f"_count={FALLBACK_PAGE_SIZE}" in sent
        assert re.sub(r"_count=\d+", "_count=N", sent) == re.sub(r"_count=\d+", "_count=N", advertised)
    else:
        assert sent == advertised


def test_the_fallback_page_size_replaces_only_the_count_parameter() -> None:
    from service.fhir import fallback_query

    template = "Observation?patient={{context.patientId}}&code=x_count=5&_count=100&_sort=-date"
    assert fallback_query(template, {"patientId": "p1"}, 7) == (
        "Observation?patient=p1&code=x_count=5&_count=7&_sort=-date"
    )
