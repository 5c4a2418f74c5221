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
from service.store.models import Base
from service.store.models import CardIssued
from service.store.models import Feedback
from service.store.models import Invocation
from service.store.models import SeenJwt


@dataclass(frozen=True, slots=True)
class IssuedCard:
    uuid: str
    recommendation: str
    indicator: str


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
        self.engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._prune_lock = threading.Lock()
        self._next_jti_prune = 0.0

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

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
        if records:
            self._insert_invocations([self.audit_row(record) for record in records])

    def audit_row(self, record: InvocationRecord) -> dict[str, Any]:
        """``record`` as it is stored (the patient id hashed), with its cards as ``[uuid, recommendation,
        indicator]`` lists: also the form of a line of the audit spool, so it holds no patient id in clear."""
        return {
            "hook_instance": record.hook_instance,
            "service_id": record.service_id,
            "hook": record.hook,
            "patient_hash": self.patient_hash(record.patient_id),
            "client_iss": record.client_iss,
            "received_at": record.received_at,
            "duration_ms": record.duration_ms,
            "recommendations": " ".join(card.recommendation for card in record.cards),
            "skipped_resources": record.skipped_resources,
            "cards": [[card.uuid, card.recommendation, card.indicator] for card in record.cards],
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
        self._insert_invocations(missing)
        return len(missing)

    def _insert_invocations(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        invocation_rows = [{key: value for key, value in row.items() if key != "cards"} for row in rows]
        with self._transaction() as session:
            ids = session.execute(
                insert(Invocation).returning(Invocation.id, sort_by_parameter_order=True), invocation_rows
            ).scalars().all()
            cards: dict[str, dict[str, Any]] = {}
            for invocation_id, row in zip(ids, rows, strict=True):
                for uuid, recommendation, indicator in row["cards"]:
                    # A client may repeat a hookInstance; the card uuid then repeats and is already known.
                    cards.setdefault(uuid, {
                        "uuid": uuid,
                        "invocation_id": invocation_id,
                        "service_id": row["service_id"],
                        "recommendation": recommendation,
                        "indicator": indicator,
                        "issued_at": row["received_at"],
                    })
            if cards:
                session.execute(self._insert_new_cards(), list(cards.values()))

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
        """Per recommendation id: cards issued, feedback accepted / overridden, override rate."""
        # Feedback may arrive before the audit of its card is written (the audit is batched), so the
        # recommendation of a feedback row is resolved here, at query time, from the cards issued.
        feedback_rec = func.coalesce(Feedback.recommendation, CardIssued.recommendation)
        on_card = CardIssued.uuid == Feedback.card_uuid
        with self._reading() as session:
            issued = dict(
                session.execute(
                    select(CardIssued.recommendation, func.count()).group_by(CardIssued.recommendation)
                ).all()
            )
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
        for rec in sorted(set(issued) | set(outcomes)):
            accepted = outcomes.get(rec, {}).get("accepted", 0)
            overridden = outcomes.get(rec, {}).get("overridden", 0)
            answered = accepted + overridden
            summary.append(
                {
                    "recommendation": rec,
                    "cardsIssued": issued.get(rec, 0),
                    "accepted": accepted,
                    "overridden": overridden,
                    "overrideRate": round(overridden / answered, 4) if answered else None,
                    "overrideReasons": reasons.get(rec, {}),
                }
            )
        return summary


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


def _make_engine(url: str) -> Engine:
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
