"""Judging without some of the data: which cards an unreadable prefetch key weakens (issue 16).

The data layer names the optional keys it could not read (``PatientRecord.unavailable``; the patient and the
conditions are essential and never reach the pathway missing). The pathway then still answers what it can
judge, but it never escalates on missing data: an escalation needs the PT trial, its outcome and the steps
already taken, read from procedures, encounters, service requests and observations, and a safety check
that is not in the record must not be taken as passed. Each fired card that a missing key would have
informed names that key, and the card content says what to check by hand (``cards/_common.yaml``
``data_gaps``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from service.pathway.advice import RecommendationId as R

#: The escalation steps of the pathway, which missing data never triggers.
ESCALATIONS: frozenset[R] = frozenset({R.ESCALATE_OCCIPITAL_NERVE_BLOCK, R.ESCALATE_PERCUTANEOUS, R.REFRACTORY_OPTIONS})

_PT_PATHWAY = frozenset(
    {
        R.PT_FIRST_LINE,
        R.PT_TRIAL_IN_PROGRESS,
        R.PT_DOCUMENT_RESPONSE,
        R.ESCALATION_PREMATURE,
        R.SUSPECTED_CONFIRM_DIAGNOSIS,
        *ESCALATIONS,
    }
)

#: Per optional prefetch key, the recommendations whose facts read it (``facts.derive_facts``):
#: medications → anticoagulation, a manipulation contraindication; observations → the PT outcome, block
#: relief, pregnancy status (a red flag with a new headache, botulinum toxin); procedures, encounters and
#: service requests → the PT trial and the steps taken, and (service requests) a pending vascular study.
AFFECTED: Mapping[str, frozenset[R]] = MappingProxyType(
    {
        "medicationrequests": frozenset({R.MANIPULATION_CONTRAINDICATED, R.MANIPULATION_RISK}),
        "observations": _PT_PATHWAY | {R.RED_FLAGS, R.BOTULINUM_PREGNANCY, R.IMAGING_NOT_INDICATED},
        "procedures": _PT_PATHWAY,
        "encounters": _PT_PATHWAY,
        "servicerequests": _PT_PATHWAY | {R.RED_FLAGS, R.IMAGING_NOT_INDICATED},
    }
)


def gaps_for(recommendation: R, unavailable: frozenset[str]) -> tuple[str, ...]:
    """The unreadable keys, in order, that ``recommendation``'s card would have read."""
    return tuple(sorted(key for key in unavailable if recommendation in AFFECTED.get(key, frozenset())))
