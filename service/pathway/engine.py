"""Entry point of the pathway: evaluate every rule for one moment and return the advice that fires."""

from __future__ import annotations

from datetime import date

from service.fhir.record import PatientRecord
from service.pathway.advice import Advice
from service.pathway.advice import Moment
from service.pathway.thresholds import PathwayThresholds


def evaluate(
    record: PatientRecord,
    moment: Moment,
    today: date,
    thresholds: PathwayThresholds | None = None,
) -> tuple[Advice, ...]:
    """All advice for ``record`` at ``moment``, at most one per recommendation id, most urgent first.

    Placeholder until the rules land (issue 2): no guidance.
    """
    del record, moment, today, thresholds
    return ()
