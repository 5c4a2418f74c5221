"""Persistence: the audit trail of invocations and cards, feedback, and the JWT replay cache (SQLAlchemy 2).

SQLite (WAL) by default, PostgreSQL through ``CGH_DATABASE_URL``. Holds hashed patient references and
recommendation ids only: no clinical payloads, identifiers in clear, tokens or JWTs.
"""

from __future__ import annotations

from service.store.repository import InvocationRecord
from service.store.repository import Store

__all__ = ["InvocationRecord", "Store"]
