"""Judging without some of the data: which cards an unreadable prefetch key weakens (issue 16).

The data layer names the optional keys it could not read (``PatientRecord.unavailable``; the patient and the
conditions are essential and never reach the pathway missing). The pathway then still answers what it can
judge, but it never escalates on missing data: an escalation needs the PT trial, its outcome and the steps
already taken, read from procedures, encounters, service requests and observations, and a safety check
that is not in the record must not be taken as passed. Each fired card that a missing key would have
informed (its declaration's ``data_keys``) names that key, and the card content says what to check by hand
(``cards/_common.yaml`` ``data_gaps``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from service.pathway.advice import RecommendationId
from service.pathway.declaration import PREFETCH_KEYS
from service.pathway.rules import RULES

#: The escalation steps of the pathway, which missing data never triggers (declared ``escalation=True``).
ESCALATIONS: frozenset[RecommendationId] = frozenset(rule.id for rule in RULES if rule.escalation)

#: Per optional prefetch key, the recommendations whose facts read it (each declaration's ``data_keys``).
AFFECTED: Mapping[str, frozenset[RecommendationId]] = MappingProxyType(
    {key: frozenset(rule.id for rule in RULES if key in rule.data_keys) for key in PREFETCH_KEYS}
)
