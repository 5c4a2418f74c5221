"""Prefetch templates and CDS Hooks 2.0 prefetch-token substitution.

The seven templates are what every service declares in discovery and what the FHIR fallback runs against
``fhirServer`` when a key is missing. They use only the CDS Hooks 2.0 token syntax (``{{context.x}}`` and
the four ``{{userXxxId}}`` tokens, spec §1.D items 16-19) and the recommended query subset (read, search by
``patient``, token equality, ``_count``, ``_sort``). The relative-date limits of ``docs/clinical/reference.md`` §2.1
(``date=ge{{today-24mo}}``) need the FHIRPath tokens of the 3.0 ballot, which 2.0 clients do not honour, so
they are dropped here and the pathway filters by date instead; ``_sort=-date`` keeps the most recent
resources first so that the page cap (``load_record(max_pages=...)``) drops the oldest ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

#: The prefetch key of each template, as declared in discovery (``service.services``) and read back from the
#: request. Status filters follow ``docs/clinical/reference.md`` §2.1 except for Conditions, which are all
#: requested: the §2.1 filter (active, recurrence, relapse, resolved) would hide a malignancy in remission (a red
#: flag) and rows without ``clinicalStatus`` (entered-in-error), which the pathway must see to ignore; a
#: patient's problem list is short. The page size keeps each search to a few pages.
PREFETCH_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}&_count=100",
        "procedures": "Procedure?patient={{context.patientId}}&_sort=-date&_count=100",
        "servicerequests": ("ServiceRequest?patient={{context.patientId}}&status=active,completed,draft&_count=100"),
        "medicationrequests": ("MedicationRequest?patient={{context.patientId}}&status=active,draft&_count=100"),
        "observations": "Observation?patient={{context.patientId}}&_sort=-date&_count=100",
        # revision-2 C3: PT visits recorded as Encounters, and the visits whose reasons document a PT region.
        "encounters": "Encounter?patient={{context.patientId}}&_sort=-date&_count=100",
    }
)

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
