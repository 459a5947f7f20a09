"""The append-only custody table (UPDATE, DELETE and TRUNCATE refused by triggers)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from fieldapp.custody import chain
from fieldapp.extensions import db

ACTIONS = ("received", "verified", "original_read", "rechecked", "audited", "reviewed",
           "site_linked", "exported", "dossier_downloaded",
           # A complaint filed with the authorities, and each update of what they did.
           "complaint_filed", "complaint_updated",
           # A row created before rows were bound to the chain, bound once as it then stood.
           "bound",
           # A backup read every original (fieldapp.backups).
           "backed_up")


class CustodyEvent(db.Model):
    __tablename__ = "custody_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[uuid.UUID] = mapped_column(unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    details: Mapped[dict] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def as_chain_dict(self) -> dict:
        """The event as the chain hashes it (plain JSON values)."""
        return {
            "seq": self.seq,
            "id": str(self.id),
            "occurred_at": chain.format_time(self.occurred_at),
            "actor_id": str(self.actor_id) if self.actor_id else None,
            "action": self.action,
            "subject_type": self.subject_type,
            "subject_id": str(self.subject_id),
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }
