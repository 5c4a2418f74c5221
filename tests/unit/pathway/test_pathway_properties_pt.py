"""Never-do properties of the PT course (issue 9 item 3, revision-2 C1-C3), over generated records and over
every fixture: never escalate on PT whose region is not documented; 12 sessions in 3 weeks is not an adequate
trial; a course documented for another region (a knee rehabilitation) never counts.

Generated records are the random records of ``test_pathway_properties`` with a CGH diagnosis, an adult
patient, a documented inadequate response, and a PT course (procedures and PT Encounters) drawn around today.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from datetime import timedelta
from pathlib import Path
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.fhir.builder import build_record
from service.fhir.builder import parse_context
from service.fhir.coding import Coding
from service.fhir.record import ConditionFacts
from service.fhir.record import EncounterFacts
from service.fhir.record import ObservationFacts
from service.fhir.record import PatientFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway import Moment
from service.pathway import evaluate
from service.pathway.facts import pt_trial
from service.pathway.terminology import ValueSetId as VS
from service.pathway.terminology import value_set
from service.pathway.thresholds import PathwayThresholds
from service.scenarios import load_scenario
from tests.conftest import FIXTURES_DIR
from tests.unit.pathway.builders import CGH
from tests.unit.pathway.builders import GON_BLOCK
from tests.unit.pathway.builders import HEADACHE_DAYS
from tests.unit.pathway.builders import PT_EXERCISE
from tests.unit.pathway.builders import PT_MANUAL
from tests.unit.pathway.builders import PT_REFERRAL
from tests.unit.pathway.builders import ids
from tests.unit.pathway.builders import member
from tests.unit.pathway.test_pathway_properties import ALL_CODINGS
from tests.unit.pathway.test_pathway_properties import PROPERTY
from tests.unit.pathway.test_pathway_properties import random_record

pytestmark = pytest.mark.fuzz

ESCALATION = {"escalate-occipital-nerve-block", "escalate-percutaneous", "refractory-options"}
PT_CODES = [PT_EXERCISE, PT_MANUAL, member(VS.PT_EXERCISE, "97161"), member(VS.PT_EXERCISE, "97530")]
OTHER_REGIONS = ["Both knees", "Left knee", "Lumbar spine", "Right shoulder", "Hip", "Fracture of neck of femur"]
LIMITS = PathwayThresholds()
todays = st.dates(min_value=date(2016, 1, 1), max_value=date(2030, 1, 1))


def _course(rng: Random, today: date, regions: list[str | None], *, span_days: int = 120) -> PatientRecord:
    """A PT course of 1-30 sessions (procedures and PT Encounters) within ``span_days`` before today, each
    documented with a region drawn from ``regions`` (``None``: no region)."""
    procedures: list[ProcedureFacts] = []
    visits: list[EncounterFacts] = []
    for index in range(rng.randint(1, 30)):
        day = today - timedelta(days=rng.randint(0, span_days))
        region = rng.choice(regions)
        sites = (region,) if region is not None else ()
        if rng.random() < 0.7:
            procedures.append(
                ProcedureFacts(f"Procedure/pt{index}", (rng.choice(PT_CODES),), "completed", day, body_site_texts=sites)
            )
        else:
            visits.append(
                EncounterFacts(f"Encounter/pt{index}", "finished", type_texts=("Physical therapy",), start=day,
                               reason_texts=sites)
            )
    base = random_record(rng, ALL_CODINGS)
    failed = (
        ObservationFacts("Observation/base", (HEADACHE_DAYS,), "final", today - timedelta(days=span_days + 30), 12.0),
        ObservationFacts("Observation/after", (HEADACHE_DAYS,), "final", today, 11.0),
    )
    return replace(
        base,
        patient=PatientFacts("Patient/p", today - timedelta(days=40 * 366)),
        # The diagnosis is the one stated here: a random refuted G44.86 would withdraw it (revision-2 C15).
        conditions=(ConditionFacts("Condition/cgh", (CGH,), clinical_status="active",
                                   verification_status="confirmed"),
                    *(c for c in base.conditions if not value_set(VS.CGH_DX_SPECIFIC).contains_any(c.codings))),
        # The course is the only PT; random requests may document a region of their own: keep none that can.
        procedures=(*_regionless(p for p in base.procedures if not _is_pt(p.codings)), *procedures),
        service_requests=tuple(_regionless_requests(base.service_requests)),
        observations=(*base.observations, *failed),
        encounters=tuple(visits),
    )


def _is_pt(codings: tuple[Coding, ...]) -> bool:
    return value_set(VS.PT_EXERCISE).contains_any(codings) or value_set(VS.PT_REEVALUATION).contains_any(codings)


def _regionless(procedures: Iterable[ProcedureFacts]) -> tuple[ProcedureFacts, ...]:
    return tuple(replace(p, body_site=(), body_site_texts=(), text=None) for p in procedures)


def _regionless_requests(requests: Iterable[ServiceRequestFacts]) -> Iterable[ServiceRequestFacts]:
    for request in requests:
        yield replace(request, text=None, body_site=(), body_site_texts=(), reason_codings=(), reason_refs=())


def _with_gon_order(record: PatientRecord) -> PatientRecord:
    order = ServiceRequestFacts("ServiceRequest/gon", (GON_BLOCK,), "draft", "order")
    return replace(record, draft_orders=(order,), selections=frozenset({order.ref}))


@PROPERTY
@given(st.randoms(), todays)
def test_pt_without_a_documented_region_never_escalates(rng: Random, today: date) -> None:
    record = _course(rng, today, [None])
    assert not pt_trial(record, today, LIMITS).adequate
    assert not ESCALATION & ids(evaluate(record, Moment.RECORD_REVIEW, today))
    found = ids(evaluate(_with_gon_order(record), Moment.ORDER_SIGN, today))
    assert "escalation-premature" in found, "a GON block after an undocumented course is early"


@PROPERTY
@given(st.randoms(), todays, st.integers(min_value=0, max_value=48))
def test_sessions_within_seven_weeks_are_never_an_adequate_trial(rng: Random, today: date, span: int) -> None:
    """However many sessions (12 in 3 weeks included), a course shorter than 8 weeks of treatment."""
    record = _course(rng, today, ["Neck", "cervical spine", None], span_days=span)
    assert not pt_trial(record, today, LIMITS).adequate
    assert not ESCALATION & ids(evaluate(record, Moment.RECORD_REVIEW, today))


@PROPERTY
@given(st.randoms(), todays, st.sampled_from(list(Moment)))
def test_a_course_for_another_region_never_counts(rng: Random, today: date, moment: Moment) -> None:
    """A knee (hip, shoulder, lumbar) course gives exactly the cards of the same record without it."""
    record = _course(rng, today, list(OTHER_REGIONS))
    course = tuple(p for p in record.procedures if p.ref.startswith("Procedure/pt"))
    without = replace(record, procedures=tuple(p for p in record.procedures if p not in course), encounters=())
    assert pt_trial(record, today, LIMITS).sessions == 0
    assert ids(evaluate(record, moment, today)) == ids(evaluate(without, moment, today))


# ------------------------------------------------------------------------------------------------ fixtures

FIXTURES = sorted(p for p in FIXTURES_DIR.rglob("*.json") if p.parent.name != "_protocol")


def _fixture_record(path: Path) -> tuple[PatientRecord, Moment, date]:
    scenario = load_scenario(path)
    request = scenario.request
    moments = {"order-select": Moment.ORDER_SELECT, "order-sign": Moment.ORDER_SIGN}
    record = build_record(
        parse_context(request["context"]),
        [*(request.get("prefetch") or {}).values(), *scenario.server_resources],
    )
    return record, moments.get(request["hook"], Moment.RECORD_REVIEW), scenario.reference_date


def _strip_pt_regions(record: PatientRecord, region: str | None) -> PatientRecord:
    """Every PT session and referral re-documented: for ``region`` only, or (``None``) for no region."""
    sites = (region,) if region is not None else ()
    return replace(
        record,
        procedures=tuple(
            replace(p, body_site=(), body_site_texts=sites, reason_codings=(), reason_texts=(), reason_refs=(),
                    based_on=(), encounter=None)
            for p in record.procedures
        ),
        encounters=tuple(
            replace(e, reason_codings=(), reason_texts=sites, reason_refs=(), based_on=()) for e in record.encounters
        ),
        service_requests=tuple(
            replace(r, text=None, body_site=(), body_site_texts=sites, reason_codings=(), reason_refs=())
            if PT_REFERRAL in r.codings
            else r
            for r in record.service_requests
        ),
    )


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(FIXTURES_DIR)))
def test_fixture_pt_without_region_never_escalates_and_a_knee_course_never_counts(path: Path) -> None:
    record, moment, today = _fixture_record(path)
    undocumented = _strip_pt_regions(record, None)
    assert not ESCALATION & ids(evaluate(undocumented, moment, today))
    knee = _strip_pt_regions(record, "Both knees")
    assert pt_trial(knee, today, LIMITS).sessions == 0
    assert not ESCALATION & ids(evaluate(knee, moment, today))
