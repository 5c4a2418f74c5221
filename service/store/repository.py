"""The ``Store``: small repository functions over the tables, one short transaction each."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import delete
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from service.errors import StoreUnavailableError
from service.store.models import CardIssued
from service.store.models import Feedback
from service.store.models import GovernanceConfig
from service.store.models import Invocation
from service.store.models import SeenJwt
from service.store.schema import upgrade


@dataclass(frozen=True, slots=True)
class IssuedCard:
    uuid: str
    recommendation: str
    indicator: str
    #: Version of the card content (``source.topic.version``).
    version: str = ""
    #: ``active`` (returned) or ``silent`` (rendered and audited, not returned).
    mode: str = "active"
    #: ``(suggestion uuid, suggestion key)`` of each suggestion the card offered.
    suggestions: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    hook_instance: str
    service_id: str
    hook: str
    patient_id: str
    client_iss: str | None
    received_at: datetime
    duration_ms: float
    cards: Sequence[IssuedCard]
    skipped_resources: int = 0


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    card_uuid: str
    outcome: str
    accepted_suggestions: Sequence[str]
    override_system: str | None
    override_code: str | None
    user_comment: str | None
    outcome_timestamp: datetime


#: Expired replay-cache entries are deleted at most this often per process (see ``Store.claim_jti``).
JTI_PRUNE_INTERVAL_S = 60.0


class Store:
    """Database access for the service. One instance per process; thread-safe (a session per call)."""

    def __init__(self, url: str, *, audit_key: str) -> None:
        self.url = url
        self._audit_key = audit_key.encode()
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._prune_lock = threading.Lock()
        self._next_jti_prune = 0.0
        # The audit batch's two statements, built once (they are immutable; building one per batch cost as much
        # as a row's insert).
        self._insert_invocations_returning_ids = insert(Invocation).returning(
            Invocation.id, sort_by_parameter_order=True
        )
        self._insert_cards_once = self._insert_new_cards()

    def create_schema(self) -> None:
        """Bring the schema to the newest revision by running the migrations (tests and tools; the app only
        checks, see :func:`service.store.schema.prepare_schema`)."""
        upgrade(self.engine)

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A session in a transaction committed on exit; database outages become a 503."""
        with _database_errors(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with _database_errors(), self._sessions() as session:
            yield session

    def ping(self) -> bool:
        """True when the database answers.

        :raises StoreUnavailableError: it does not.
        """
        with _database_errors(), self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True

    def dispose(self) -> None:
        self.engine.dispose()

    def patient_hash(self, patient_id: str) -> str:
        """Keyed hash of a patient id: joins one patient's invocations without storing the id."""
        return hmac.new(self._audit_key, patient_id.encode(), hashlib.sha256).hexdigest()

    def record_invocation(self, record: InvocationRecord) -> None:
        self.record_invocations((record,))

    def record_invocations(self, records: Sequence[InvocationRecord]) -> None:
        """Store a batch of answered calls and the cards they issued, in one transaction.

        Core bulk inserts, not ORM units of work: the audit runs for every call and the ORM's per-object
        flush cost as much as answering the hook.
        """
        self.record_audit_rows([self.audit_row(record) for record in records])

    def audit_row(self, record: InvocationRecord) -> dict[str, Any]:
        """``record`` as it is stored (the patient id hashed), with its cards as ``[uuid, recommendation,
        indicator, version, mode, suggestions]`` lists: also the form of a line of the audit spool, so it holds no
        patient id in clear."""
        return {
            "hook_instance": record.hook_instance,
            "service_id": record.service_id,
            "hook": record.hook,
            "patient_hash": self.patient_hash(record.patient_id),
            "client_iss": record.client_iss,
            "received_at": record.received_at,
            "duration_ms": record.duration_ms,
            # The cards returned to the client; silent ones are in cards_issued with their mode.
            "recommendations": " ".join(card.recommendation for card in record.cards if card.mode == "active"),
            "skipped_resources": record.skipped_resources,
            "cards": [
                [card.uuid, card.recommendation, card.indicator, card.version, card.mode,
                 " ".join(f"{uuid}={key}" for uuid, key in card.suggestions)]
                for card in record.cards
            ],
        }

    def restore_invocations(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store the spooled ``rows`` (:meth:`audit_row`, read back from JSON) the database does not hold yet.

        A row is already held when an invocation with the same hook instance, service and reception time
        exists: the batch that held it was committed before its writer died. Returns how many were stored.
        """
        parsed = [{**row, "received_at": _utc(datetime.fromisoformat(row["received_at"]))} for row in rows]
        if not parsed:
            return 0
        with self._reading() as session:
            held = {
                (hook_instance, service_id, _utc(received_at))
                for hook_instance, service_id, received_at in session.execute(
                    select(Invocation.hook_instance, Invocation.service_id, Invocation.received_at).where(
                        Invocation.hook_instance.in_({row["hook_instance"] for row in parsed})
                    )
                ).all()
            }
        missing = [
            row for row in parsed if (row["hook_instance"], row["service_id"], row["received_at"]) not in held
        ]
        self.record_audit_rows(missing)
        return len(missing)

    def record_audit_rows(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store a batch of answered calls already in their stored form (:meth:`audit_row`), in one transaction.

        The audit writer builds each row once, on the request's thread, for the spool line, and hands the same
        row to the database: the patient hash and the card lists are not computed a second time.
        """
        if not rows:
            return
        invocation_rows = [{key: value for key, value in row.items() if key != "cards"} for row in rows]
        # A Core connection, not an ORM session: the session's bulk-insert bookkeeping cost as much as the
        # inserts themselves (bench/README.md, issue 13); the statements and the one transaction are the same.
        with _database_errors(), self.engine.begin() as connection:
            ids = connection.execute(self._insert_invocations_returning_ids, invocation_rows).scalars().all()
            cards: dict[str, dict[str, Any]] = {}
            for invocation_id, row in zip(ids, rows, strict=True):
                for uuid, recommendation, indicator, *governance in row["cards"]:
                    # Spool lines written before cards carried a version and mode have only the first three.
                    version, mode, suggestions = governance or ("", "active", "")
                    # A client may repeat a hookInstance; the card uuid then repeats and is already known.
                    cards.setdefault(uuid, {
                        "uuid": uuid,
                        "invocation_id": invocation_id,
                        "service_id": row["service_id"],
                        "recommendation": recommendation,
                        "version": version,
                        "indicator": indicator,
                        "mode": mode,
                        "suggestions": suggestions,
                        "issued_at": row["received_at"],
                    })
            if cards:
                connection.execute(self._insert_cards_once, list(cards.values()))

    def _insert_new_cards(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            return postgresql_insert(CardIssued).on_conflict_do_nothing(index_elements=["uuid"])
        return sqlite_insert(CardIssued).on_conflict_do_nothing(index_elements=["uuid"])

    def record_feedback(
        self, service_id: str, items: Iterable[FeedbackRecord], *, client_iss: str | None, store_comments: bool
    ) -> int:
        """Store every item in one transaction; returns how many were stored. Commits before returning."""
        now = datetime.now(UTC)
        rows = list(items)
        with self._transaction() as session:
            uuids = {row.card_uuid for row in rows}
            known = dict(
                session.execute(
                    select(CardIssued.uuid, CardIssued.recommendation).where(CardIssued.uuid.in_(uuids))
                ).all()
            )
            for row in rows:
                session.add(
                    Feedback(
                        card_uuid=row.card_uuid,
                        service_id=service_id,
                        recommendation=known.get(row.card_uuid),
                        outcome=row.outcome,
                        accepted_suggestions=" ".join(row.accepted_suggestions),
                        override_system=row.override_system,
                        override_code=row.override_code,
                        user_comment=row.user_comment if store_comments else None,
                        outcome_timestamp=row.outcome_timestamp,
                        received_at=now,
                        client_iss=client_iss,
                    )
                )
        return len(rows)

    def claim_jti(self, iss: str, jti: str, expires_at: datetime) -> bool:
        """Record ``(iss, jti)`` as used; False if it was already used and has not expired (a replay).

        One Core INSERT in its own transaction (durable before the request goes on). Expired entries are
        deleted at most every :data:`JTI_PRUNE_INTERVAL_S` per process rather than on every call (that DELETE
        was a second statement on every authenticated request); an expired entry not yet pruned is freed here
        when its id comes back, so the answer is the same as with a prune on every call.
        """
        now = datetime.now(UTC)
        row = {"iss": iss, "jti": jti, "expires_at": expires_at}
        try:
            # A Core connection, not an ORM session: the session's bookkeeping cost as much as the insert.
            with _database_errors(), self.engine.begin() as connection:
                if self._jti_prune_due():
                    connection.execute(delete(SeenJwt).where(SeenJwt.expires_at < now))
                connection.execute(insert(SeenJwt), [row])
        except IntegrityError:
            try:
                with _database_errors(), self.engine.begin() as connection:
                    freed = connection.execute(
                        delete(SeenJwt).where(SeenJwt.iss == iss, SeenJwt.jti == jti, SeenJwt.expires_at < now)
                    )
                    if not freed.rowcount:
                        return False  # seen and not expired: a replay
                    connection.execute(insert(SeenJwt), [row])
            except IntegrityError:
                return False  # another worker claimed the freed id first
        return True

    def _jti_prune_due(self) -> bool:
        with self._prune_lock:
            now = time.monotonic()
            if now < self._next_jti_prune:
                return False
            self._next_jti_prune = now + JTI_PRUNE_INTERVAL_S
            return True

    def recommendation_summary(self) -> list[dict[str, Any]]:
        """Per recommendation id: cards issued (returned) and silent, feedback accepted / overridden, override rate."""
        # Feedback may arrive before the audit of its card is written (the audit is batched), so the
        # recommendation of a feedback row is resolved here, at query time, from the cards issued.
        feedback_rec = func.coalesce(Feedback.recommendation, CardIssued.recommendation)
        on_card = CardIssued.uuid == Feedback.card_uuid
        with self._reading() as session:
            issued: dict[str, int] = {}
            silent: dict[str, int] = {}
            for recommendation, mode, count in session.execute(
                select(CardIssued.recommendation, CardIssued.mode, func.count())
                .group_by(CardIssued.recommendation, CardIssued.mode)
            ).all():
                (issued if mode == "active" else silent)[recommendation] = count
            outcomes: dict[str, dict[str, int]] = {}
            for recommendation, outcome, count in session.execute(
                select(feedback_rec, Feedback.outcome, func.count(func.distinct(Feedback.card_uuid)))
                .select_from(Feedback)
                .outerjoin(CardIssued, on_card)
                .where(feedback_rec.is_not(None))
                .group_by(feedback_rec, Feedback.outcome)
            ).all():
                outcomes.setdefault(str(recommendation), {})[outcome] = count
            reasons: dict[str, dict[str, int]] = {}
            for recommendation, code, count in session.execute(
                select(feedback_rec, Feedback.override_code, func.count())
                .select_from(Feedback)
                .outerjoin(CardIssued, on_card)
                .where(feedback_rec.is_not(None), Feedback.override_code.is_not(None))
                .group_by(feedback_rec, Feedback.override_code)
            ).all():
                reasons.setdefault(str(recommendation), {})[str(code)] = count
        summary = []
        for rec in sorted(set(issued) | set(silent) | set(outcomes)):
            accepted = outcomes.get(rec, {}).get("accepted", 0)
            overridden = outcomes.get(rec, {}).get("overridden", 0)
            answered = accepted + overridden
            summary.append(
                {
                    "recommendation": rec,
                    "cardsIssued": issued.get(rec, 0),
                    "cardsSilent": silent.get(rec, 0),
                    "accepted": accepted,
                    "overridden": overridden,
                    "overrideRate": round(overridden / answered, 4) if answered else None,
                    "overrideReasons": reasons.get(rec, {}),
                }
            )
        return summary

    def record_governance(
        self, *, digest: str, source: str, modes: dict[str, Any], now: datetime | None = None
    ) -> bool:
        """Note ``modes`` (digest ``digest``) as in force from now, unless they already are (same latest digest).

        Called at every start-up: a changed file becomes a new row with its time, so each change of mode is in
        the audit trail. Replicas starting together may each add the same change; readers skip repeats.
        Returns True when a row was added.
        """
        with self._transaction() as session:
            latest = session.execute(
                select(GovernanceConfig.digest).order_by(GovernanceConfig.effective_at.desc(),
                                                         GovernanceConfig.id.desc()).limit(1)
            ).scalar_one_or_none()
            if latest == digest:
                return False
            session.add(GovernanceConfig(
                effective_at=now or datetime.now(UTC), digest=digest, source=source,
                modes=orjson.dumps(modes, option=orjson.OPT_SORT_KEYS).decode(),
            ))
        return True

    def governance_history(self) -> list[dict[str, Any]]:
        """Every governance change, oldest first: time, digest, source and modes (consecutive repeats merged)."""
        with self._reading() as session:
            rows = session.execute(
                select(GovernanceConfig).order_by(GovernanceConfig.effective_at, GovernanceConfig.id)
            ).scalars().all()
        history: list[dict[str, Any]] = []
        for row in rows:
            if history and history[-1]["digest"] == row.digest:
                continue
            history.append({"effectiveAt": _utc(row.effective_at).isoformat(), "digest": row.digest,
                            "source": row.source, "modes": orjson.loads(row.modes)})
        return history

    def trends(self, since: datetime, until: datetime) -> Trends:
        """Figures per recommendation and version for cards issued in ``[since, until)``.

        Days and ISO weeks are UTC. Feedback counts once per card and outcome (a client may repeat it) and is
        attributed to the card's recommendation and version, resolved at query time from the cards issued.
        """
        with self._reading() as session:
            cards = session.execute(
                select(CardIssued.uuid, CardIssued.recommendation, CardIssued.version, CardIssued.mode,
                       CardIssued.suggestions, CardIssued.issued_at)
                .where(CardIssued.issued_at >= since, CardIssued.issued_at < until)
            ).all()
            uuids = [row.uuid for row in cards]
            feedback: list[Any] = []
            for chunk in _chunks(uuids, 500):
                feedback.extend(session.execute(
                    select(Feedback.card_uuid, Feedback.outcome, Feedback.override_code,
                           Feedback.accepted_suggestions, Feedback.outcome_timestamp)
                    .where(Feedback.card_uuid.in_(chunk))
                ).all())
        return _trends(cards, feedback)


@dataclass(frozen=True, slots=True)
class Trends:
    """Figures keyed by ``(recommendation, version)``: see :meth:`Store.trends`."""

    #: (recommendation, version) → day (YYYY-MM-DD) → {"active": n, "silent": n}
    daily: dict[tuple[str, str], dict[str, dict[str, int]]]
    #: (recommendation, version) → ISO week (YYYY-Www) → {"accepted": n, "overridden": n}
    weekly: dict[tuple[str, str], dict[str, dict[str, int]]]
    #: (recommendation, version) → override reason code → count
    reasons: dict[tuple[str, str], dict[str, int]]
    #: (recommendation, version) → suggestion key → {"offered": n, "accepted": n}
    suggestions: dict[tuple[str, str], dict[str, dict[str, int]]]


def _trends(cards: Sequence[Any], feedback: Sequence[Any]) -> Trends:
    daily: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    suggestions: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    by_uuid: dict[str, tuple[tuple[str, str], dict[str, str], datetime]] = {}
    for card in cards:
        key = (card.recommendation, card.version)
        issued_at = _utc(card.issued_at)
        day = daily.setdefault(key, {}).setdefault(issued_at.date().isoformat(), {"active": 0, "silent": 0})
        day[card.mode] = day.get(card.mode, 0) + 1
        offered = dict(pair.split("=", 1)[::-1] for pair in card.suggestions.split() if "=" in pair)
        if card.mode == "active":
            for suggestion_key in offered:
                counts = suggestions.setdefault(key, {}).setdefault(suggestion_key, {"offered": 0, "accepted": 0})
                counts["offered"] += 1
        by_uuid[card.uuid] = (key, {uuid: name for name, uuid in offered.items()}, issued_at)
    weekly: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    reasons: dict[tuple[str, str], dict[str, int]] = {}
    seen_outcomes: set[tuple[str, str]] = set()
    seen_suggestions: set[tuple[str, str]] = set()
    seen_reasons: set[tuple[str, str]] = set()  # a reason repeated on one card counts once, as outcomes do
    for row in feedback:
        key, offered_by_uuid, issued_at = by_uuid[row.card_uuid]
        if row.outcome == "overridden" and row.override_code and (row.card_uuid, row.override_code) not in seen_reasons:
            seen_reasons.add((row.card_uuid, row.override_code))
            reasons.setdefault(key, {})
            reasons[key][row.override_code] = reasons[key].get(row.override_code, 0) + 1
        for suggestion_uuid in row.accepted_suggestions.split():
            name = offered_by_uuid.get(suggestion_uuid)
            if name is not None and (row.card_uuid, suggestion_uuid) not in seen_suggestions:
                seen_suggestions.add((row.card_uuid, suggestion_uuid))
                counts = suggestions.setdefault(key, {}).setdefault(name, {"offered": 0, "accepted": 0})
                counts["accepted"] += 1
        if (row.card_uuid, row.outcome) in seen_outcomes:
            continue
        seen_outcomes.add((row.card_uuid, row.outcome))
        year, week, _ = issued_at.isocalendar()
        counts = weekly.setdefault(key, {}).setdefault(f"{year}-W{week:02d}", {"accepted": 0, "overridden": 0})
        counts[row.outcome] = counts.get(row.outcome, 0) + 1
    return Trends(daily=daily, weekly=weekly, reasons=reasons, suggestions=suggestions)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _utc(moment: datetime) -> datetime:
    """An aware UTC time (SQLite gives back naive times that were stored as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextmanager
def _database_errors() -> Iterator[None]:
    """Translate a lost or refusing database into :class:`StoreUnavailableError` (503), at this one boundary."""
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        raise StoreUnavailableError(
            "The service's database is unavailable; nothing was stored. Retry shortly."
        ) from exc


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Pooled, not one connection per request: closing a process's last connection checkpoints and
        # deletes the WAL (an fsync), which cost ~20 ms per audited request (bench/README.md). Connections
        # still never cross gunicorn's fork: the post_fork hook disposes of the pool the parent opened.
        engine = create_engine(url, poolclass=QueuePool, connect_args={"timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
