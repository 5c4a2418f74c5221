"""Configurable clinical thresholds of the pathway (reference.md §2.2, §2.4); defaults are the reference's."""

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
    #: A pregnancy signal (Condition or "pregnant" Observation) expires this many months after its date
    #: (revision 2 C10), or earlier at a delivery dated after it.
    pregnancy_signal_months: int = 10
    #: A diagnostic block is positive with at least this percent relief (local threshold, reference.md §2.2
    #: diagnostic_block_positive; many payers ask >= 80 for RF candidacy).
    block_relief_percent: float = 50.0
    #: NSAIDs are avoided from this many completed weeks of gestation (reference.md §2.5, FDA 2020).
    nsaid_pregnancy_weeks: int = 20
    #: Aspirin at or below this many mg a day is prophylaxis, not an analgesic order (revision 2 C10; NICE
    #: 75-150 mg for pre-eclampsia; the FDA 2020 NSAID communication exempts low-dose aspirin).
    low_dose_aspirin_mg: float = 150.0
