"""Database tables: invocations, cards issued, feedback and the JWT replay cache. No clinical payloads, no tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column


class Base(DeclarativeBase):
    pass


class Invocation(Base):
    """One answered hook call: who asked (hashed patient, client issuer), which service, how long, which advice."""

    __tablename__ = "invocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hook_instance: Mapped[str] = mapped_column(String(256), index=True)
    service_id: Mapped[str] = mapped_column(String(64), index=True)
    hook: Mapped[str] = mapped_column(String(64))
    patient_hash: Mapped[str] = mapped_column(String(64), index=True)
    client_iss: Mapped[str | None] = mapped_column(String(512), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    duration_ms: Mapped[float] = mapped_column(Float)
    #: Space-separated recommendation ids of the cards issued (empty: no guidance).
    recommendations: Mapped[str] = mapped_column(Text, default="")
    skipped_resources: Mapped[int] = mapped_column(Integer, default=0)


class CardIssued(Base):
    """A card we sent, so feedback on its uuid can be tied back to a recommendation."""

    __tablename__ = "cards_issued"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    invocation_id: Mapped[int] = mapped_column(ForeignKey("invocations.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    recommendation: Mapped[str] = mapped_column(String(64), index=True)
    #: Version of the card content (``source.topic.version``): a text change is a new version in the figures.
    version: Mapped[str] = mapped_column(String(32), default="", server_default="")
    indicator: Mapped[str] = mapped_column(String(16))
    #: ``active`` (returned to the client) or ``silent`` (evaluated and audited, not returned).
    mode: Mapped[str] = mapped_column(String(8), default="active", server_default="active")
    #: ``uuid=key`` pairs, space-separated, of the suggestions offered: feedback names accepted ones by uuid.
    suggestions: Mapped[str] = mapped_column(Text, default="", server_default="")
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Feedback(Base):
    """One feedback item as the client sent it (repeats kept: each is an event)."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_rec_outcome", "recommendation", "outcome"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    card_uuid: Mapped[str] = mapped_column(String(256), index=True)
    service_id: Mapped[str] = mapped_column(String(64))
    #: Recommendation id of the card, when the card was issued by this service (else NULL).
    recommendation: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[str] = mapped_column(Text, default="")
    override_system: Mapped[str | None] = mapped_column(String(512), nullable=True)
    override_code: Mapped[str | None] = mapped_column(String(256), nullable=True)
    #: Free text typed by a clinician may hold patient data: kept only when CGH_STORE_COMMENTS is true.
    user_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client_iss: Mapped[str | None] = mapped_column(String(512), nullable=True)


class GovernanceConfig(Base):
    """The governance (modes per recommendation and client) in force from ``effective_at``: one row per change."""

    __tablename__ = "governance_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    effective_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: SHA-256 of the canonical modes: a changed file is a new row, a restart with the same modes is not.
    digest: Mapped[str] = mapped_column(String(64))
    #: Where the modes came from (the file's path, or the all-active default).
    source: Mapped[str] = mapped_column(String(1024))
    #: The canonical modes as JSON: ``{"site": {rec: mode}, "clients": {iss: {rec: mode}}}``.
    modes: Mapped[str] = mapped_column(Text)


class SeenJwt(Base):
    """JWT ids already accepted, kept until the token expires, shared by every worker through the database."""

    __tablename__ = "seen_jwts"

    iss: Mapped[str] = mapped_column(String(512), primary_key=True)
    jti: Mapped[str] = mapped_column(String(256), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
