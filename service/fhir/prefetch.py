"""Prefetch templates and CDS Hooks 2.0 prefetch-token substitution.

The seven templates are what every service declares in discovery and what the FHIR fallback runs against
``fhirServer`` when a key is missing. They use only the CDS Hooks 2.0 token syntax (``{{context.x}}`` and
the four ``{{userXxxId}}`` tokens, spec §1.D items 16-19), and every search is one of the search parameter
combinations a US Core 6.1.0 server SHALL support (``docs/ehr-integration.md`` §"Prefetch templates" says
which one and why; ``tests/unit/fhir/test_us_core_templates.py`` checks them against a table taken from US
Core). Real EHR APIs answer 400 to other searches (Epic's Observation search needs ``code`` or
``category``), and an EHR that cannot run a template leaves the key out of its prefetch.

So no ``_sort`` (US Core requires it nowhere; the pathway orders by date itself), no ``_count`` (not a US
Core parameter; the page size is the server's, and ``next`` links are followed up to the page cap), and no
status filters where US Core does not pair them with ``patient``: the pathway reads statuses itself. The
relative-date limits of ``docs/clinical/reference.md`` §2.1 need the FHIRPath tokens of the 3.0 ballot and
are not used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

#: The Observation codes the pathway reads (``service.pathway.facts.observation_is_used``; a unit test keeps
#: the two equal): pregnancy status (LOINC 82810-3) and the service's own outcome codes. The outcome codes
#: are in no US Core Observation category, so the template searches by ``patient`` + ``code`` with
#: ``system|code`` tokens rather than by category.
OBSERVATION_CODES: tuple[tuple[str, str], ...] = (
    ("http://loinc.org", "82810-3"),
    ("http://cgh-cds.example.org/fhir/CodeSystem/outcome", "headache-days-per-month"),
    ("http://cgh-cds.example.org/fhir/CodeSystem/outcome", "headache-days-per-week"),
    ("http://cgh-cds.example.org/fhir/CodeSystem/outcome", "treatment-response"),
    ("http://cgh-cds.example.org/fhir/CodeSystem/outcome", "block-relief-percent"),
)

#: The prefetch key of each template, as declared in discovery (``service.services``) and read back from the
#: request. Conditions are all requested (a malignancy in remission is a red flag; entered-in-error rows
#: must be seen to be ignored); MedicationRequests by the intents of prescriptions and medication plans.
PREFETCH_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        "procedures": "Procedure?patient={{context.patientId}}",
        "servicerequests": "ServiceRequest?patient={{context.patientId}}",
        "medicationrequests": "MedicationRequest?patient={{context.patientId}}&intent=order,plan",
        "observations": "Observation?patient={{context.patientId}}&code="
        + ",".join(f"{system}|{code}" for system, code in OBSERVATION_CODES),
        # revision-2 C3: PT visits recorded as Encounters, and the visits whose reasons document a PT region.
        "encounters": "Encounter?patient={{context.patientId}}",
    }
)

#: Keys without which nothing can be judged: the service answers 412 naming them when they cannot be read.
#: Every other key is optional: when it cannot be read the service answers with what it can judge, says so
#: on the affected cards and in the data-notes extension, and never escalates (issue 16).
ESSENTIAL_KEYS: frozenset[str] = frozenset({"patient", "conditions"})

#: ``{{userPractitionerId}}`` and friends: the id part of ``context.userId`` when it has that resource type
#: (CDS Hooks 2.0 §prefetch tokens; ``context.userId`` is ``Type/id``).
USER_ID_TOKENS: Mapping[str, str] = MappingProxyType(
    {
        "userPractitionerId": "Practitioner",
        "userPractitionerRoleId": "PractitionerRole",
        "userPatientId": "Patient",
        "userRelatedPersonId": "RelatedPerson",
    }
)

_TOKEN = re.compile(r"\{\{(.*?)\}\}")


class UnfillableTokenError(LookupError):
    """A template token the context cannot fill; the prefetch key is then unobtainable.

    ``token`` is the token as written between the braces (never a context value).
    """

    def __init__(self, token: str, reason: str) -> None:
        super().__init__(f"the template needs {{{{{token}}}}}, but {reason}")
        self.token = token
        self.reason = reason


def substitute_tokens(template: str, context: Mapping[str, Any]) -> str:
    """``template`` with every ``{{token}}`` replaced from ``context``, percent-encoded for a URL.

    Only root-level primitive context fields are tokens (CDS Hooks 2.0: "``{{context.medication.id}}`` is
    not a valid prefetch token"); a value is percent-encoded except ``/`` so that ``{{context.userId}}``
    (``Practitioner/123``) still reads as a path. Booleans become ``true``/``false``.

    :raises UnfillableTokenError: a token is unknown, absent from the context, or not a primitive.
    """

    def fill(match: re.Match[str]) -> str:
        token = match.group(1).strip()
        return quote(_token_value(token, context), safe="/")

    return _TOKEN.sub(fill, template)


def _token_value(token: str, context: Mapping[str, Any]) -> str:
    if token in USER_ID_TOKENS:
        user = context.get("userId")
        prefix = USER_ID_TOKENS[token] + "/"
        if isinstance(user, str) and user.startswith(prefix) and len(user) > len(prefix):
            return user[len(prefix) :]
        return _raise(token, f"context.userId is not a {USER_ID_TOKENS[token]} reference")
    if not token.startswith("context."):
        return _raise(token, "only context fields and the user*Id tokens are CDS Hooks 2.0 prefetch tokens")
    name = token[len("context.") :]
    if "." in name or not name:
        return _raise(token, "only root-level context fields are prefetch tokens")
    value = context.get(name)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None:
        return _raise(token, f"the context has no {name}")
    return _raise(token, f"context.{name} is not a string or number")


def _raise(token: str, reason: str) -> str:
    raise UnfillableTokenError(token, reason)
