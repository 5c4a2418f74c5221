"""Calendar arithmetic that never overflows, and the patient's age."""

from __future__ import annotations

import calendar
from datetime import date
from datetime import timedelta

from service.fhir.record import PatientRecord


def days_before(day: date, days: int) -> date:
    """``day`` minus ``days`` days, clamped to ``date.min`` instead of overflowing."""
    try:
        return day - timedelta(days=days)
    except OverflowError:
        return date.min


def days_after(day: date, days: int) -> date:
    """``day`` plus ``days`` days, clamped to ``date.max`` instead of overflowing."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def months_before(day: date, months: int) -> date:
    """The same day ``months`` months earlier (end of month when shorter), never below ``date.min``."""
    years, month_index = divmod(day.month - 1 - months, 12)
    year = day.year + years
    if year < date.min.year:
        return date.min
    month = month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_between(start: date, end: date) -> int | None:
    """Completed years from ``start`` to ``end``; ``None`` when ``start`` is after ``end``."""
    if start > end:
        return None
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def age(record: PatientRecord, today: date) -> int | None:
    """Age in completed years at ``today`` (docs/clinical/reference.md §2.2 ``age``); ``None`` without a birth date."""
    birth = record.patient.birth_date if record.patient is not None else None
    return years_between(birth, today) if birth is not None else None


def is_deceased(record: PatientRecord) -> bool:
    return record.patient is not None and record.patient.deceased
