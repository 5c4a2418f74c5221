"""The figures of a schemathesis run, per phase, read from its NDJSON report (``--report ndjson``).

Schemathesis prints one total ("N generated"); a long run must also show that every phase ran to its end
and what each cost, so that a run stopped early or a phase skipped cannot pass for a complete one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

#: The phases that send generated requests, in the order schemathesis runs them.
TESTING_PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass
class PhaseFigures:
    name: str
    #: "success", "failure", "error", "skip", "interrupted"; "unfinished" when the report has no end for it.
    status: str = "unfinished"
    skip_reason: str | None = None
    started: bool = False
    seconds: float = 0.0
    #: Scenarios that sent a request: one per operation for the unit phases, one per call sequence for stateful.
    scenarios: int = 0
    #: Test cases sent (the summary's "generated").
    cases: int = 0
    #: Failed checks, as "check name: operation".
    failures: list[str] = field(default_factory=list)


@dataclass
class RunFigures:
    phases: dict[str, PhaseFigures]
    #: The engine's own reason to stop ("completed" when it ran out of work, not of time or patience).
    stop_reason: str | None
    seconds: float
    schemathesis_version: str | None
    seed: int | None
    #: Requests replayed with a fresh token after a 401 (schemathesis' re-authentication): a token that
    #: went stale between generation and sending. Expected 0: each token is minted for its own request.
    reauth_count: int = 0

    @property
    def cases(self) -> int:
        return sum(phase.cases for phase in self.phases.values())

    @property
    def failures(self) -> list[str]:
        return [failure for phase in self.phases.values() for failure in phase.failures]

    @property
    def complete(self) -> bool:
        """The engine stopped because it was done, and every testing phase not disabled on the command line ran
        and ended (passed or found failures), rather than being skipped, interrupted or stopped by an error."""
        return self.stop_reason == "completed" and all(
            phase.status in ("success", "failure") or phase.skip_reason == "disabled" for phase in self.phases.values()
        )

    def current_phase(self) -> str | None:
        """The testing phase under way (None before the first and after the last)."""
        under_way = [name for name, phase in self.phases.items() if phase.started and phase.status == "unfinished"]
        return under_way[0] if under_way else None

    def table(self) -> str:
        lines = ["| phase | status | scenarios | cases | failures | seconds |", "|---|---|---|---|---|---|"]
        for name in TESTING_PHASES:
            phase = self.phases[name]
            status = f"{phase.status} ({phase.skip_reason})" if phase.skip_reason else phase.status
            lines.append(
                f"| {name} | {status} | {phase.scenarios:,} | {phase.cases:,} | {len(phase.failures)} "
                f"| {phase.seconds:,.0f} |"
            )
        lines.append(f"| total | {self.stop_reason} | | {self.cases:,} | {len(self.failures)} | {self.seconds:,.0f} |")
        return "\n".join(lines)


def read_report(events: Path) -> RunFigures:
    """The figures of the NDJSON report ``events``, also while it is written: a report cut short gives
    "unfinished" phases, and a last line still being written is left for the next reading."""
    lines = events.read_text().splitlines()
    parsed: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise
    return figures_of(parsed)


def figures_of(events: Iterable[dict[str, Any]]) -> RunFigures:
    phases = {name: PhaseFigures(name) for name in TESTING_PHASES}
    started: dict[str, float] = {}
    stop_reason: str | None = None
    seconds = 0.0
    version: str | None = None
    seed: int | None = None
    reauth_count = 0
    for event in events:
        kind, body = next(iter(event.items()))  # one event per line: {"Kind": {...}}
        if kind == "Initialize":
            version, seed = body.get("schemathesis_version"), body.get("seed")
        elif kind == "PhaseStarted" and body["phase"]["name"] in phases:
            started[body["phase"]["name"]] = body["timestamp"]
            phases[body["phase"]["name"]].started = True
        elif kind == "PhaseFinished" and body["phase"]["name"] in phases:
            phase = phases[body["phase"]["name"]]
            phase.status = body["status"]
            phase.skip_reason = body["phase"].get("skip_reason")
            phase.seconds = body["timestamp"] - started.get(phase.name, body["timestamp"])
        elif kind == "ScenarioFinished" and body["phase"] in phases:
            _count_scenario(phases[body["phase"]], body["recorder"])
        elif kind == "EngineFinished":
            stop_reason, seconds = body.get("stop_reason"), body["running_time"]
            reauth_count = (body.get("payload") or {}).get("reauth_count", 0)
    return RunFigures(phases, stop_reason, seconds, version, seed, reauth_count)


def _count_scenario(phase: PhaseFigures, recorder: dict[str, Any]) -> None:
    cases = recorder.get("cases", {})  # none when the operation was skipped ("No examples in schema")
    if not cases:
        return
    phase.scenarios += 1
    phase.cases += len(cases)
    for case_id, checks in recorder.get("checks", {}).items():
        case = cases.get(case_id, {}).get("value", {})
        operation = f"{case.get('method', '?')} {case.get('path', '?')}"
        phase.failures += [f"{check['name']}: {operation}" for check in checks if check["status"] == "failure"]
