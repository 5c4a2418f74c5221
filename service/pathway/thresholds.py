"""Configurable clinical thresholds of the pathway (docs/clinical/reference.md §2.2, §2.4); defaults are the
reference's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PathwayThresholds:
    #: Adequate PT trial (revision-2 C1) = session-dates >= pt_min_sessions AND last - first session >=
    #: (pt_min_weeks - 1) weeks, i.e. pt_min_weeks weeks of treatment. No session-count-only alternative.
    pt_min_weeks: int = 8
    pt_min_sessions: int = 6
    #: A course not yet adequate with no session for this many weeks is shown as stopped (revision-2 C1).
    pt_stopped_weeks: int = 4
    #: PT sessions older than this do not count toward the current trial.
    pt_lookback_months: int = 12
    #: A CGH/headache onset within this many months is "new".
    new_onset_months: int = 12
    #: New onset past this age is a red flag (ACR variant; SNNOOP10 2019 uses 65).
    new_onset_age: int = 50
    #: Trauma codes (whiplash, strain, fracture, subluxation) count as recent within this many weeks.
    trauma_window_weeks: int = 6
    #: A responder has at least this fractional reduction in headache frequency.
    responder_reduction: float = 0.5
    #: The response used is the latest follow-up within this many months (revision-2 C17).
    response_months: int = 6
    #: Earlier interventional steps count toward escalation only within this many months (revision-2 C17).
    step_lookback_months: int = 24
    #: Relief on each of two controlled cervical medial branch blocks that confirms the diagnosis for
    #: refractory options (revision-2 C16; Bogduk & Govind 2009).
    controlled_block_relief_percent: float = 80.0
    #: A pregnancy signal (Condition or "pregnant" Observation) expires this many months after its date
    #: (revision 2 C10), or earlier at a delivery dated after it.
    pregnancy_signal_months: int = 10
    #: A block with at least this percent structured relief supports the diagnosis (revision-2 C16; local
    #: threshold of docs/clinical/reference.md §2.2). It never confirms it on its own.
    block_relief_percent: float = 50.0
    #: NSAIDs are avoided from this many completed weeks of gestation (docs/clinical/reference.md §2.5, FDA 2020).
    nsaid_pregnancy_weeks: int = 20
    #: Aspirin at or below this many mg a day is prophylaxis, not an analgesic order (revision 2 C10; NICE
    #: 75-150 mg for pre-eclampsia; the FDA 2020 NSAID communication exempts low-dose aspirin).
    low_dose_aspirin_mg: float = 150.0
