"""Builders for pathway tests: named clinical codes (checked against the value sets) and small record builders.

Codes are never pasted into tests: each named constant here is looked up in the value set that must hold it,
so a test fails loudly if a value set loses a code the pathway relies on (opioid-cds ``clinical-codes.js``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date
from datetime import timedelta

from service.fhir.coding import ICD10CM
from service.fhir.coding import Coding
from service.fhir.coding import normalise
from service.fhir.record import ConditionFacts
from service.fhir.record import EncounterFacts
from service.fhir.record import MedicationRequestFacts
from service.fhir.record import ObservationFacts
from service.fhir.record import OrderFacts
from service.fhir.record import PatientFacts
from service.fhir.record import PatientRecord
from service.fhir.record import ProcedureFacts
from service.fhir.record import ServiceRequestFacts
from service.pathway import Advice
from service.pathway.terminology import ValueSetId as VS
from service.pathway.terminology import value_set

#: "Today" of every scenario in docs/clinical/reference.md §4.
TODAY = date(2025, 6, 1)
PATIENT_REF = "Patient/p1"
_ids = itertools.count(1)


def member(vs_id: VS, code: str, *, dotless: bool = False) -> Coding:
    """The coding for ``code`` as listed in ``vs_id`` (its system and display); fails if it is not a member.

    ``dotless`` sends an ICD-10-CM code the way some EHR feeds do (``G4486``).
    """
    vs = value_set(vs_id)
    for entry in vs.entries():
        if entry.code == code and not entry.family:
            raw = code.replace(".", "") if dotless and entry.system == ICD10CM else code
            coding = normalise(entry.system, raw, entry.display)
            assert coding is not None and vs.contains(coding)
            return coding
    raise AssertionError(f"{code} is not listed in value set {vs_id.value}")


def family(vs_id: VS, system: str, code: str, display: str | None = None) -> Coding:
    """A code that is a member only through an ``is-a`` family of ``vs_id`` (e.g. G43.709 in G43)."""
    coding = normalise(system, code, display)
    assert coding is not None and value_set(vs_id).contains(coding), f"{code} not in {vs_id.value}"
    return coding


# ------------------------------------------------------------------------------------------------ named codes
CGH = member(VS.CGH_DX_SPECIFIC, "G44.86")
CGH_DOTLESS = member(VS.CGH_DX_SPECIFIC, "G44.86", dotless=True)
CGH_LEGACY_OTHER_HEADACHE = member(VS.CGH_DX_LEGACY, "G44.89")
CGH_LEGACY_CERVICOCRANIAL = member(VS.CGH_DX_LEGACY, "M53.0")
CGH_LEGACY_CERVICOCRANIAL_DOTLESS = member(VS.CGH_DX_LEGACY, "M53.0", dotless=True)
HEADACHE = member(VS.HEADACHE_SYMPTOMS, "R51.9")
HEADACHE_PRE_2021 = member(VS.HEADACHE_SYMPTOMS, "R51")
HEADACHE_SNOMED = member(VS.HEADACHE_SYMPTOMS, "25064002")
CERVICALGIA = member(VS.CERVICAL_DISORDERS, "M54.2")
CERVICAL_SPONDYLOSIS = member(VS.CERVICAL_DISORDERS, "M47.812")

PT_EVAL = member(VS.PT_EXERCISE, "97161")
PT_EXERCISE = member(VS.PT_EXERCISE, "97110")
PT_MANUAL = member(VS.PT_EXERCISE, "97140")
PT_NEURO = member(VS.PT_EXERCISE, "97112")
PT_REEVAL = member(VS.PT_REEVALUATION, "97164")
PT_REFERRAL = member(VS.PT_EXERCISE, "91251008")

CHIRO_MANIPULATION = member(VS.MANIPULATION, "98940")
CHIRO_MANIPULATION_SNOMED = member(VS.MANIPULATION, "46947000")

MRI_CSPINE = member(VS.CERVICAL_SPINE_IMAGING, "72141")
MRI_CSPINE_LOINC = member(VS.CERVICAL_SPINE_IMAGING, "30667-0")
CT_CSPINE = member(VS.CERVICAL_SPINE_IMAGING, "72125")
CTA_NECK = member(VS.NEUROVASCULAR_IMAGING, "70498")
CTA_NECK_LOINC = member(VS.NEUROVASCULAR_IMAGING, "30594-6")
MRI_BRAIN = member(VS.HEAD_IMAGING, "70551")

GON_BLOCK = member(VS.GON_BLOCK, "64405")
OTHER_NERVE_BLOCK = member(VS.PERIPHERAL_NERVE_BLOCK, "64450")
FACET_INJECTION = member(VS.PERCUTANEOUS, "64490")
MEDIAL_BRANCH_BLOCK = member(VS.CERVICAL_MEDIAL_BRANCH_BLOCK, "64490")
CERVICAL_EPIDURAL = member(VS.PERCUTANEOUS, "62321")
RF_NEUROTOMY = member(VS.REFRACTORY, "64633")
BOTOX_PROCEDURE = member(VS.BOTULINUM_TOXIN, "64615")
BOTOX_HCPCS = member(VS.BOTULINUM_TOXIN, "J0585")

OXYCODONE = member(VS.OPIOIDS, "7804")
IBUPROFEN = member(VS.NSAIDS, "5640")
IBUPROFEN_PRODUCT = member(VS.NSAIDS, "310965")
NAPROXEN_PRODUCT = member(VS.NSAIDS, "849574")
ACETAMINOPHEN = member(VS.PARACETAMOL, "161")
SUMATRIPTAN = member(VS.TRIPTANS, "37418")
APIXABAN = member(VS.ANTICOAGULANTS, "1364430")
WARFARIN_PRODUCT = member(VS.ANTICOAGULANTS, "855332")
ANTICOAGULANT_USE = member(VS.ANTICOAGULATION_STATUS, "Z79.01")

VERTEBRAL_DISSECTION = member(VS.RED_FLAGS_RECENT, "I77.74")
DIPLOPIA = member(VS.RED_FLAGS, "H53.2")
FEVER = member(VS.RED_FLAGS_RECENT, "R50.9")
BONE_METASTASIS = member(VS.MANIPULATION_HISTORY_CONTRAINDICATIONS, "C79.51")
HIV = member(VS.IMMUNOSUPPRESSION, "B20")
WHIPLASH_SPRAIN = member(VS.RECENT_TRAUMA, "S13.4XXA")
WHIPLASH_SNOMED = member(VS.RECENT_TRAUMA, "39848009")
OCCIPITO_ATLANTO_AXIAL_INSTABILITY = member(VS.MANIPULATION_CONTRAINDICATIONS, "M53.2X1")
OSTEOPOROSIS = member(VS.MANIPULATION_CONTRAINDICATIONS, "M81.0")
OSTEOPOROSIS_SNOMED = member(VS.MANIPULATION_CONTRAINDICATIONS, "64859006")
RHEUMATOID_ARTHRITIS = member(VS.MANIPULATION_CONTRAINDICATIONS, "M06.9")
RHEUMATOID_ARTHRITIS_SNOMED = member(VS.MANIPULATION_CONTRAINDICATIONS, "69896004")
MARFAN = member(VS.MANIPULATION_CONTRAINDICATIONS, "Q87.40")

MIGRAINE = member(VS.DIFFERENTIAL_MIGRAINE, "G43.909")
MIGRAINE_SNOMED = member(VS.DIFFERENTIAL_MIGRAINE, "124171000119105")
MIGRAINE_SNOMED_GENERAL = member(VS.DIFFERENTIAL_MIGRAINE, "37796009")
MEDICATION_OVERUSE = member(VS.DIFFERENTIAL_MEDICATION_OVERUSE, "G44.41")
CHRONIC_MIGRAINE = member(VS.CHRONIC_MIGRAINE, "G43.709")
CHRONIC_MIGRAINE_WITH_AURA = member(VS.CHRONIC_MIGRAINE, "G43.E09")
CHRONIC_MIGRAINE_SNOMED = member(VS.CHRONIC_MIGRAINE, "124171000119105")
TENSION_TYPE = member(VS.DIFFERENTIAL_TENSION_TYPE, "G44.209")
POTS = member(VS.DIFFERENTIAL_POTS, "G90.A")
ORTHOSTATIC_HYPOTENSION = member(VS.DIFFERENTIAL_ORTHOSTATIC_HYPOTENSION, "I95.1")
SIH = member(VS.DIFFERENTIAL_SIH, "G96.811")
ORTHOSTATIC_HEADACHE = member(VS.DIFFERENTIAL_SIH, "R51.0")

PREGNANT_INCIDENTAL = member(VS.PREGNANCY, "Z33.1")
PREGNANCY_STATUS = member(VS.PREGNANCY_STATUS_OBSERVATION, "82810-3")
PREGNANT_FINDING = member(VS.PREGNANCY, "77386006")

HEADACHE_DAYS = member(VS.HEADACHE_FREQUENCY_OBSERVATION, "headache-days-per-month")
TREATMENT_RESPONSE = member(VS.TREATMENT_RESPONSE_OBSERVATION, "treatment-response")
RESPONSE_INADEQUATE = member(VS.RESPONSE_INADEQUATE, "inadequate")
RESPONSE_ADEQUATE = member(VS.RESPONSE_ADEQUATE, "adequate")
BLOCK_RELIEF = member(VS.BLOCK_RELIEF_OBSERVATION, "block-relief-percent")
BLOCK_POSITIVE = member(VS.BLOCK_POSITIVE, "block-positive")


def gestation(weeks: int) -> Coding:
    """The Z3A.xx coding for ``weeks`` completed weeks of gestation (8-42)."""
    return member(VS.GESTATIONAL_AGE, f"Z3A.{weeks:02d}")


# ------------------------------------------------------------------------------------------------ dates


def days_ago(days: int, today: date = TODAY) -> date:
    return today - timedelta(days=days)


def weeks_ago(weeks: int, today: date = TODAY) -> date:
    return today - timedelta(weeks=weeks)


def born_years_ago(years: int, today: date = TODAY) -> date:
    """A birth date giving exactly ``years`` completed years at ``today`` (birthday yesterday)."""
    return date(today.year - years, today.month, today.day) - timedelta(days=1)


# ------------------------------------------------------------------------------------------------ resources


def _ref(kind: str) -> str:
    return f"{kind}/{kind.lower()}-{next(_ids)}"


def patient(age: int | None = 40, *, deceased: bool = False, birth_date: date | None = None) -> PatientFacts:
    born = birth_date if birth_date is not None else (born_years_ago(age) if age is not None else None)
    return PatientFacts(ref=PATIENT_REF, birth_date=born, gender="female", deceased=deceased)


def condition(
    *codings: Coding,
    verification: str | None = "confirmed",
    clinical: str | None = "active",
    onset: date | None = None,
    recorded: date | None = None,
    abatement: date | None = None,
    text: str | None = None,
    ref: str | None = None,
) -> ConditionFacts:
    return ConditionFacts(
        ref=ref or _ref("Condition"),
        codings=tuple(codings),
        text=text,
        clinical_status=clinical,
        verification_status=verification,
        onset=onset,
        abatement=abatement,
        recorded=recorded,
    )


def cgh(
    verification: str | None = "confirmed", onset: date | None = None, coding: Coding = CGH, **kw: object
) -> ConditionFacts:
    """The CGH diagnosis (G44.86), confirmed and two years old unless told otherwise."""
    when = onset if onset is not None else days_ago(730)
    return condition(coding, verification=verification, onset=when, **kw)  # type: ignore[arg-type]


def procedure(
    coding: Coding,
    performed: date | None,
    *,
    status: str | None = "completed",
    notes: Iterable[str] = (),
    body_site: Iterable[Coding] = (),
    outcome: Iterable[Coding] = (),
    text: str | None = None,
    ref: str | None = None,
    body_site_texts: Iterable[str] = (),
    reason_codings: Iterable[Coding] = (),
    reason_refs: Iterable[str] = (),
    based_on: Iterable[str] = (),
    encounter: str | None = None,
) -> ProcedureFacts:
    return ProcedureFacts(
        ref=ref or _ref("Procedure"),
        codings=(coding,),
        status=status,
        performed=performed,
        body_site=tuple(body_site),
        text=text,
        outcome=tuple(outcome),
        notes=tuple(notes),
        body_site_texts=tuple(body_site_texts),
        reason_codings=tuple(reason_codings),
        reason_refs=tuple(reason_refs),
        based_on=tuple(based_on),
        encounter=encounter,
    )


#: The body site a PT course for the headache documents (revision-2 C2); ``region=None`` leaves it out.
NECK = "Neck"


def pt_course(
    dates: Iterable[date], codes: Iterable[Coding] = (PT_EXERCISE,), *, region: str | None = NECK
) -> tuple[ProcedureFacts, ...]:
    """One completed PT procedure per code per date (several billing lines on one visit), its body site
    ``region`` (the neck unless told otherwise; ``None``: no region documented)."""
    listed = tuple(codes)
    sites = (region,) if region is not None else ()
    return tuple(procedure(code, when, body_site_texts=sites) for when in dates for code in listed)


def pt_visit(
    start: date | None,
    *,
    status: str | None = "finished",
    types: Iterable[Coding] = (),
    type_text: str | None = "Physical therapy visit",
    reason_codings: Iterable[Coding] = (),
    reason_texts: Iterable[str] = (),
    reason_refs: Iterable[str] = (),
    based_on: Iterable[str] = (),
    ref: str | None = None,
) -> EncounterFacts:
    """A (PT, by its type text unless told otherwise) Encounter."""
    return EncounterFacts(
        ref=ref or _ref("Encounter"),
        status=status,
        types=tuple(types),
        type_texts=(type_text,) if type_text else (),
        start=start,
        reason_codings=tuple(reason_codings),
        reason_texts=tuple(reason_texts),
        reason_refs=tuple(reason_refs),
        based_on=tuple(based_on),
    )


def weekly_sessions(count: int, first: date) -> list[date]:
    return [first + timedelta(weeks=index) for index in range(count)]


def observation(
    coding: Coding,
    effective: date | None,
    value: float | None = None,
    *,
    unit: str | None = None,
    value_coding: Coding | None = None,
    status: str | None = "final",
    ref: str | None = None,
    part_of: Iterable[str] = (),
    value_text: str | None = None,
) -> ObservationFacts:
    return ObservationFacts(
        ref=ref or _ref("Observation"),
        codings=(coding,),
        status=status,
        effective=effective,
        value_quantity=value,
        value_unit=unit,
        value_codings=(value_coding,) if value_coding is not None else (),
        value_text=value_text,
        part_of=tuple(part_of),
    )


def block_relief(block: ProcedureFacts, percent: float, *, linked: bool = True) -> ObservationFacts:
    """Structured relief after ``block`` (revision-2 C16): ``partOf`` the block, or only dated the same day."""
    return observation(
        BLOCK_RELIEF, block.performed, percent, unit="%", part_of=(block.ref,) if linked else ()
    )


#: The procedure's own name documenting a cervical level (revision-2 C17: a cervical site).
CERVICAL_LEVEL = "Cervical medial branch block, right C2-C3"


def headache_days(effective: date, value: float) -> ObservationFacts:
    return observation(HEADACHE_DAYS, effective, value, unit="days per month")


def service_request(
    *codings: Coding,
    status: str | None = "draft",
    text: str | None = None,
    notes: Iterable[str] = (),
    ref: str | None = None,
    authored: date | None = TODAY,
    reason_codings: Iterable[Coding] = (),
    reason_refs: Iterable[str] = (),
    body_site_texts: Iterable[str] = (),
) -> ServiceRequestFacts:
    return ServiceRequestFacts(
        ref=ref or _ref("ServiceRequest"),
        codings=tuple(codings),
        status=status,
        intent="order",
        authored=authored,
        text=text,
        notes=tuple(notes),
        reason_codings=tuple(reason_codings),
        reason_refs=tuple(reason_refs),
        body_site_texts=tuple(body_site_texts),
    )


def medication_request(
    *codings: Coding, text: str | None = None, status: str | None = "draft", ref: str | None = None
) -> MedicationRequestFacts:
    return MedicationRequestFacts(
        ref=ref or _ref("MedicationRequest"),
        codings=tuple(codings),
        text=text,
        status=status,
        intent="order",
        authored=TODAY,
    )


def record(
    *conditions: ConditionFacts,
    age: int | None = 40,
    deceased: bool = False,
    procedures: Iterable[ProcedureFacts] = (),
    service_requests: Iterable[ServiceRequestFacts] = (),
    medication_requests: Iterable[MedicationRequestFacts] = (),
    observations: Iterable[ObservationFacts] = (),
    drafts: Iterable[OrderFacts] = (),
    selections: Iterable[str] = (),
    birth_date: date | None = None,
    encounters: Iterable[EncounterFacts] = (),
) -> PatientRecord:
    return PatientRecord(
        patient=patient(age, deceased=deceased, birth_date=birth_date),
        conditions=tuple(conditions),
        procedures=tuple(procedures),
        service_requests=tuple(service_requests),
        medication_requests=tuple(medication_requests),
        observations=tuple(observations),
        draft_orders=tuple(drafts),
        selections=frozenset(selections),
        encounters=tuple(encounters),
    )


def adequate_failed_trial(reduction_to: float = 9.0) -> tuple[tuple[ProcedureFacts, ...], tuple[ObservationFacts, ...]]:
    """S03: PT weekly from 2025-02-10 (11 session-dates, 16 weeks), headache days 12 -> ``reduction_to``."""
    first = date(2025, 2, 10)
    return (
        pt_course(weekly_sessions(11, first), (PT_EXERCISE, PT_MANUAL)),
        (headache_days(date(2025, 2, 5), 12), headache_days(date(2025, 5, 1), reduction_to)),
    )


# ------------------------------------------------------------------------------------------------ reading advice


def ids(advice: Iterable[Advice]) -> set[str]:
    return {item.recommendation.value for item in advice}


def by_id(advice: Iterable[Advice]) -> dict[str, Advice]:
    return {item.recommendation.value: item for item in advice}
