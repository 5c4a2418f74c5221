"""Which Observations the pathway reads, and which of them are usable."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date

from service.fhir.coding import Coding
from service.fhir.record import ObservationFacts
from service.pathway.facts.status import IGNORED_OBSERVATION
from service.pathway.facts.status import _status
from service.pathway.terminology import ValueSetId
from service.pathway.terminology import any_of

#: The only Observations any rule reads (outcomes, block relief, pregnancy status).
_OBSERVATION_SETS = (
    ValueSetId.HEADACHE_FREQUENCY_OBSERVATION,
    ValueSetId.TREATMENT_RESPONSE_OBSERVATION,
    ValueSetId.BLOCK_RELIEF_OBSERVATION,
    ValueSetId.PREGNANCY_STATUS_OBSERVATION,
)


def observation_is_used(codings: Iterable[Coding]) -> bool:
    """Whether any rule reads an Observation coded ``codings``.

    The data layer uses it to leave out the rest (vital signs, labs) before reading their values: a real
    record holds hundreds of them and the pathway asks about none.
    """
    # One remembered verdict per code for the four sets together: this runs for every Observation of a record.
    return any_of(*_OBSERVATION_SETS).contains_any(codings)


def _usable(observation: ObservationFacts, today: date) -> bool:
    return (
        _status(observation.status) not in IGNORED_OBSERVATION
        and observation.effective is not None
        and observation.effective <= today
    )


def _latest(observations: Iterable[ObservationFacts]) -> ObservationFacts | None:
    dated = [o for o in observations if o.effective is not None]
    return max(dated, key=lambda o: o.effective or date.min) if dated else None


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
