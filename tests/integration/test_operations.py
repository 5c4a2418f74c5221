"""What operators do to a running server, under load, on SQLite and PostgreSQL.

A steady stream of hook calls (each answered card then gets one feedback item) runs against ``cgh-cds serve``
(gunicorn, 2 workers) while the test reloads it (HUP), stops one worker (TERM), recycles workers
(``--max-requests``), stops the server (TERM: drain, then graceful stop), or kills a worker and then the whole
server (SIGKILL) and restarts it. Every test then reads the database: every card of an answered call has its
``cards_issued`` row, every feedback answered 200 is stored and resolves to its recommendation (what
``/analytics/recommendations`` counts). Graceful operations must not fail a single request. Figures are
printed (``-s``) as ``OPERATION-FIGURES {...}``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy import text

from service.scenarios import iter_scenarios
from tests.conftest import FIXTURES_DIR
from tests.servers import RunningService
from tests.servers import running_service
from tests.unit.fhir.conftest import StubFhirServer
from tests.unit.fhir.conftest import patient
from tests.unit.fhir.conftest import searchset

#: Hook calls per test (each also sends one feedback request when it got a card): a few hundred requests.
CALLS = 150
LOAD_THREADS = 4

_CARD_SCENARIOS = [
    s.rolled_to(date.today())
    for s in iter_scenarios(FIXTURES_DIR)
    if not s.server_resources and s.expect.status == 200 and s.expect.cards
]


@dataclass
class Tally:
    """Everything the load saw."""

    sent: int = 0
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    cards: set[str] = field(default_factory=set)
    feedback_acknowledged: dict[str, str] = field(default_factory=dict)


class Load:
    """``CALLS`` hook calls from ``LOAD_THREADS`` threads, each with keep-alive connections (as an EHR has)."""

    def __init__(self, base_url: str, calls: int = CALLS) -> None:
        self.base_url = base_url
        self.tally = Tally()
        self._calls = calls
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(LOAD_THREADS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def wait(self, timeout_s: float = 120) -> None:
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        assert not any(thread.is_alive() for thread in self._threads), "the load did not finish"

    def wait_answered(self, count: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.tally.answered < count:
            assert time.monotonic() < deadline, f"only {self.tally.answered} calls answered: {self.tally.failures}"
            time.sleep(0.02)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            number = next(self._numbers)
            if number >= self._calls:
                return
            scenario = _CARD_SCENARIOS[number % len(_CARD_SCENARIOS)]
            body = self._send(session, f"/cds-services/{scenario.service}",
                              {**scenario.request, "hookInstance": str(uuid.uuid4())})
            if body is None:
                continue
            with self._lock:
                self.tally.answered += 1
                self.tally.cards.update(card["uuid"] for card in body["cards"])
            if not body["cards"]:
                continue
            card = body["cards"][number % len(body["cards"])]
            item: dict[str, Any] = {"card": card["uuid"], "outcomeTimestamp": "2026-01-01T00:00:00Z"}
            if number % 2 and card.get("suggestions"):
                item.update(outcome="accepted", acceptedSuggestions=[{"id": card["suggestions"][0]["uuid"]}])
            else:
                item["outcome"] = "overridden"
                if card.get("overrideReasons"):
                    item["overrideReason"] = {"reason": card["overrideReasons"][0]}
            stored = self._send(session, f"/cds-services/{scenario.service}/feedback", {"feedback": [item]})
            if stored == {"stored": 1}:
                with self._lock:
                    self.tally.feedback_acknowledged[card["uuid"]] = item["outcome"]

    def _send(self, session: requests.Session, path: str, payload: dict[str, Any]) -> Any:
        with self._lock:
            self.tally.sent += 1
        try:
            response = session.post(f"{self.base_url}{path}", json=payload, timeout=30)
        except requests.RequestException as exc:
            self._fail(f"{path.rsplit('/', 1)[-1]}: {type(exc).__name__}: {exc}"[:300])
            return None
        if response.status_code != 200:
            self._fail(f"{path.rsplit('/', 1)[-1]}: HTTP {response.status_code} {response.text[:200]}")
            return None
        return response.json()

    def _fail(self, reason: str) -> None:
        with self._lock:
            self.tally.failures.append(reason)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@dataclass
class Stored:
    cards_missing: int
    feedback_missing: int
    feedback_unattributed: int


def _stored(database_url: str, tally: Tally) -> Stored:
    """What the database holds of what the load was answered."""
    engine = create_engine(database_url.replace("postgresql:", "postgresql+psycopg:", 1)
                           if database_url.startswith("postgresql:") else database_url)
    try:
        with engine.connect() as connection:
            held_cards: set[str] = set()
            cards = sorted(tally.cards)
            for start in range(0, len(cards), 500):
                chunk = cards[start:start + 500]
                held_cards.update(connection.execute(
                    text("SELECT uuid FROM cards_issued WHERE uuid IN ({})".format(
                        ", ".join(f":c{i}" for i in range(len(chunk))))),
                    {f"c{i}": value for i, value in enumerate(chunk)},
                ).scalars())
            feedback = sorted(tally.feedback_acknowledged)
            stored: dict[str, str | None] = {}
            for start in range(0, len(feedback), 500):
                chunk = feedback[start:start + 500]
                rows = connection.execute(
                    text(
                        "SELECT f.card_uuid, COALESCE(f.recommendation, c.recommendation) FROM feedback f "
                        "LEFT JOIN cards_issued c ON c.uuid = f.card_uuid WHERE f.card_uuid IN ({})".format(
                            ", ".join(f":f{i}" for i in range(len(chunk))))
                    ),
                    {f"f{i}": value for i, value in enumerate(chunk)},
                ).all()
                stored.update({card: recommendation for card, recommendation in rows})
    finally:
        engine.dispose()
    return Stored(
        cards_missing=len(tally.cards - held_cards),
        feedback_missing=len(set(tally.feedback_acknowledged) - set(stored)),
        feedback_unattributed=sum(1 for recommendation in stored.values() if recommendation is None),
    )


def _metric(base_url: str, name: str) -> float:
    response = requests.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text[:500]
    return sum(float(value) for value in re.findall(rf"^{name}(?:\{{[^}}]*\}})? ([0-9.e+]+)$", response.text, re.M))


def _report(operation: str, database_url: str, tally: Tally, stored: Stored, **extra: Any) -> None:
    figures = {
        "operation": operation,
        "database": database_url.split(":", 1)[0],
        "sent": tally.sent,
        "answered_calls": tally.answered,
        "failed": len(tally.failures),
        "cards_answered": len(tally.cards),
        "cards_issued_missing": stored.cards_missing,
        "feedback_acknowledged": len(tally.feedback_acknowledged),
        "feedback_stored": len(tally.feedback_acknowledged) - stored.feedback_missing,
        "feedback_unattributed": stored.feedback_unattributed,
        **extra,
    }
    print("OPERATION-FIGURES " + json.dumps(figures))


def _wait_gone(pids: list[int], timeout_s: float = 20) -> None:
    """Until none of ``pids`` runs (orphaned workers stop within about a second of their master's death)."""
    deadline = time.monotonic() + timeout_s
    while any(Path(f"/proc/{pid}").exists() and "State:\tZ" not in _status(pid) for pid in pids):
        assert time.monotonic() < deadline, "workers outlived their master"
        time.sleep(0.1)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "State:\tZ"


def _assert_nothing_lost(stored: Stored) -> None:
    assert stored.cards_missing == 0, "answered cards without a cards_issued row"
    assert stored.feedback_missing == 0, "acknowledged feedback not stored"
    assert stored.feedback_unattributed == 0, "stored feedback that analytics cannot attribute"


@pytest.fixture
def service(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Iterator[RunningService]:
    args = getattr(request, "param", ())
    with running_service(tmp_path, {"CGH_DATABASE_URL": database_url}, args=args) as running:
        yield running


def _stored_once_settled(database_url: str, tally: Tally, timeout_s: float = 30) -> Stored:
    """What the database holds once the spools of stopped workers are taken over (a live worker's sweep, 5 s)."""
    deadline = time.monotonic() + timeout_s
    while True:
        stored = _stored(database_url, tally)
        if stored == Stored(0, 0, 0) or time.monotonic() >= deadline:
            return stored
        time.sleep(0.5)


def _graceful(service: RunningService, database_url: str, operation: str, act: Any) -> None:
    with Load(service.base_url) as load:
        load.wait_answered(CALLS // 3)
        act(service)
        load.wait()
    tally = load.tally
    answered_at = time.monotonic()
    stored = _stored_once_settled(database_url, tally)
    settled_after_s = round(time.monotonic() - answered_at, 1)
    # The metrics folder survived: /metrics answers and counts every card answered, across retired workers.
    cards_counted = _metric(service.base_url, "cgh_cards_total")
    recovered = _metric(service.base_url, "cgh_audit_recovered_total")
    figures = requests.get(f"{service.base_url}/analytics/recommendations", timeout=10).json()
    analytics_feedback = sum(row["accepted"] + row["overridden"] for row in figures["recommendations"])
    _report(operation, database_url, tally, stored, cards_counted_in_metrics=cards_counted,
            feedback_in_analytics=analytics_feedback, recovered_from_spools=recovered,
            settled_after_s=settled_after_s)
    assert tally.failures == [], tally.failures[:5]
    assert tally.answered == CALLS
    _assert_nothing_lost(stored)
    assert cards_counted == len(tally.cards)
    if database_url.startswith("sqlite"):  # this test's own database
        assert analytics_feedback == len(tally.feedback_acknowledged)
    assert "Traceback" not in service.log()


def test_reload_with_hup_under_load(service: RunningService, database_url: str) -> None:
    workers_before = set(service.worker_pids())

    def reload(running: RunningService) -> None:
        os.kill(running.process.pid, signal.SIGHUP)

    _graceful(service, database_url, "HUP", reload)
    deadline = time.monotonic() + 20
    while workers_before & set(service.worker_pids()):
        assert time.monotonic() < deadline, "HUP should have replaced every worker"
        time.sleep(0.2)


def test_terminate_one_worker_under_load(service: RunningService, database_url: str) -> None:
    def terminate_one(running: RunningService) -> None:
        os.kill(running.worker_pids()[0], signal.SIGTERM)

    _graceful(service, database_url, "TERM one worker", terminate_one)


@pytest.mark.parametrize("service", [("--max-requests", "30", "--max-requests-jitter", "10")], indirect=True)
def test_worker_recycling_under_load(service: RunningService, database_url: str) -> None:
    _graceful(service, database_url, "recycling (max-requests 30, jitter 10)", lambda running: None)
    assert service.log().count("Autorestarting worker") >= 4


def test_sigterm_drains_then_stops_gracefully(
    tmp_path: Path, database_url: str, fhir_stub: StubFhirServer
) -> None:
    """/readyz fails first while calls are answered; a call in flight at the stop finishes; the audit is flushed."""
    for path in ("Condition", "Procedure", "ServiceRequest", "MedicationRequest", "Observation"):
        fhir_stub.route(f"/fhir/{path}", searchset())
    fhir_stub.route("/fhir/Patient/p1", patient("p1"), delay_s=2.5)  # a call still running when the stop comes
    # A drain long enough that, on a loaded machine, the master has raised the flag and the slow call has reached
    # a worker well before it ends (CI saw one run where 2 s was not).
    env = {"CGH_DATABASE_URL": database_url, "CGH_DRAIN_S": "4", "CGH_FHIR_TIMEOUT_S": "8"}
    with running_service(tmp_path, env) as service:
        slow_instance = str(uuid.uuid4())
        slow: dict[str, Any] = {}

        def slow_call() -> None:
            slow["response"] = requests.post(
                f"{service.base_url}/cds-services/cgh-patient-view",
                json={"hook": "patient-view", "hookInstance": slow_instance, "fhirServer": fhir_stub.base_url,
                      "context": {"userId": "Practitioner/1", "patientId": "p1"}},
                timeout=30,
            )

        with Load(service.base_url) as load:
            load.wait_answered(CALLS // 3)
            os.kill(service.process.pid, signal.SIGTERM)
            stopped_at = time.monotonic()
            # The master handles the signal in its own loop: readiness fails once it has, not at the kill itself.
            flag_seen_after_s = _seconds_until_not_ready(service.base_url, within_s=3.0)
            slow_thread = threading.Thread(target=slow_call)
            slow_thread.start()
            answered_when_ready_failed = load.tally.answered
            readiness = [requests.get(f"{service.base_url}/readyz", timeout=5).status_code for _ in range(3)]
            # The load balancer has seen /readyz fail: traffic stops before the drain ends.
            time.sleep(max(0.0, 1.5 - (time.monotonic() - stopped_at)))
            load.stop()
        answered_while_draining = load.tally.answered - answered_when_ready_failed
        service.process.wait(timeout=30)
        slow_thread.join(timeout=30)
        exit_code = service.process.returncode
    tally = load.tally
    stored = _stored(database_url, tally)
    spool_left = list((tmp_path / "instance" / "audit-spool").glob("*.spool"))
    _report("SIGTERM master (drain 4 s)", database_url, tally, stored, not_ready_after_s=flag_seen_after_s,
            readiness_after_sigterm=readiness, answered_while_draining=answered_while_draining,
            slow_call_status=slow["response"].status_code, spool_files_left=len(spool_left))
    assert flag_seen_after_s is not None, "/readyz still answered 200 3 s after SIGTERM"
    assert readiness == [503, 503, 503]
    assert answered_while_draining > 0 and tally.failures == [], tally.failures[:5]
    assert slow["response"].status_code == 200 and exit_code == 0
    _assert_nothing_lost(stored)
    assert spool_left == []  # the queue was flushed at the stop: nothing waits for a take-over
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM invocations WHERE hook_instance = :h"),
                                  {"h": slow_instance}).scalar_one() == 1
    engine.dispose()


def _seconds_until_not_ready(base_url: str, *, within_s: float) -> float | None:
    """Seconds from now until ``/readyz`` answers 503, or None if it still answered 200 after ``within_s``."""
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        if requests.get(f"{base_url}/readyz", timeout=5).status_code == 503:
            return round(time.monotonic() - started, 3)
        time.sleep(0.02)
    return None


@pytest.mark.parametrize("whole_server", [False, True], ids=["master", "master-and-workers"])
def test_sigkill_a_worker_then_the_master_and_restart(tmp_path: Path, database_url: str, whole_server: bool) -> None:
    """SIGKILL one worker mid-stream, then the master: alone (its workers notice and stop on their own), or with
    every worker at once (as a container kill or the OOM killer does); then start the server again."""
    env = {"CGH_DATABASE_URL": database_url}
    with running_service(tmp_path, env) as service:
        with Load(service.base_url, calls=CALLS * 2) as load:
            load.wait_answered(CALLS // 2)
            killed = service.worker_pids()[0]
            os.kill(killed, signal.SIGKILL)
            # The worker gunicorn starts in its place takes the killed one's spool over.
            spool_dir = tmp_path / "instance" / "audit-spool"
            deadline = time.monotonic() + 20
            while list(spool_dir.glob(f"*-{killed}-*.spool")):
                assert time.monotonic() < deadline, "the killed worker's spool was not taken over"
                time.sleep(0.1)
            recovered_after_worker_kill = _metric(service.base_url, "cgh_audit_recovered_total")
            load.wait_answered(CALLS + CALLS // 2)
            workers = service.worker_pids()
            os.kill(service.process.pid, signal.SIGKILL)
            if whole_server:
                for pid in workers:
                    os.kill(pid, signal.SIGKILL)
            service.process.wait(timeout=10)
            _wait_gone(workers)
            load.stop()
    tally = load.tally
    lost_before_restart = _stored(database_url, tally)
    left_by_the_kill = set((tmp_path / "instance" / "audit-spool").glob("*.spool"))
    with running_service(tmp_path, env) as restarted:
        deadline = time.monotonic() + 30
        while any(path.exists() for path in left_by_the_kill):
            assert time.monotonic() < deadline, "the spools of the killed processes were not taken over"
            time.sleep(0.2)
        recovered = _metric(restarted.base_url, "cgh_audit_recovered_total")
        lost = _metric(restarted.base_url, "cgh_audit_lost_total")
        figures = requests.get(f"{restarted.base_url}/analytics/recommendations", timeout=10).json()
        analytics_feedback = sum(row["accepted"] + row["overridden"] for row in figures["recommendations"])
    stored = _stored(database_url, tally)
    _report(f"SIGKILL a worker, then {'master + workers' if whole_server else 'master'}; restart", database_url,
            tally, stored,
            cards_missing_before_restart=lost_before_restart.cards_missing,
            recovered_from_spool_after_worker_kill=recovered_after_worker_kill,
            spools_left_by_the_kill=len(left_by_the_kill),
            recovered_from_spool_after_restart=recovered, counted_lost=lost,
            failed_refused_while_down=sum("Connection refused" in f for f in tally.failures),
            failed_cut_off_in_flight=sum("Connection refused" not in f for f in tally.failures),
            feedback_in_analytics=analytics_feedback)
    _assert_nothing_lost(stored)
    assert lost == 0
    if database_url.startswith("sqlite"):
        # This test's own database: analytics counts every acknowledged feedback, plus at most those committed by
        # a worker killed before its 200 left (stored, but the client saw a failure).
        cut_off_feedback = sum(failure.startswith("feedback:") for failure in tally.failures)
        acknowledged = len(tally.feedback_acknowledged)
        assert acknowledged <= analytics_feedback <= acknowledged + cut_off_feedback
