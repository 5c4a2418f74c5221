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
    started_at: float | None = None
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

    def add(self, event: dict[str, Any]) -> None:
        """Count one event of the report."""
        kind, body = next(iter(event.items()))  # one event per line: {"Kind": {...}}
        if kind == "Initialize":
            self.schemathesis_version, self.seed = body.get("schemathesis_version"), body.get("seed")
        elif kind == "PhaseStarted" and body["phase"]["name"] in self.phases:
            phase = self.phases[body["phase"]["name"]]
            phase.started_at = body["timestamp"]
        elif kind == "PhaseFinished" and body["phase"]["name"] in self.phases:
            phase = self.phases[body["phase"]["name"]]
            phase.status = body["status"]
            phase.skip_reason = body["phase"].get("skip_reason")
            phase.seconds = body["timestamp"] - (phase.started_at or body["timestamp"])
        elif kind == "ScenarioFinished" and body["phase"] in self.phases:
            _count_scenario(self.phases[body["phase"]], body["recorder"])
        elif kind == "EngineFinished":
            self.stop_reason, self.seconds = body.get("stop_reason"), body["running_time"]
            self.reauth_count = (body.get("payload") or {}).get("reauth_count", 0)

    def current_phase(self) -> str | None:
        """The testing phase under way (None before the first and after the last)."""
        under_way = [
            name for name, phase in self.phases.items() if phase.started_at is not None and phase.status == "unfinished"
        ]
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
    """The figures of the NDJSON report ``events``; a report cut short gives "unfinished" phases."""
    return ReportFollower(events).figures()


class ReportFollower:
    """The figures of an NDJSON report while schemathesis writes it: each call reads only the lines added
    since the last (a long run's report grows to gigabytes), leaving a line still being written for later."""

    def __init__(self, events: Path) -> None:
        self._events = events
        self._offset = 0
        self._figures = figures_of([])

    def figures(self) -> RunFigures:
        with self._events.open("rb") as report:
            report.seek(self._offset)
            for line in report:
                if not line.endswith(b"\n"):
                    break  # the writer is in the middle of it
                self._offset += len(line)
                if line.strip():
                    self._figures.add(json.loads(line))
        return self._figures


def figures_of(events: Iterable[dict[str, Any]]) -> RunFigures:
    figures = RunFigures({name: PhaseFigures(name) for name in TESTING_PHASES}, None, 0.0, None, None)
    for event in events:
        figures.add(event)
    return figures


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
