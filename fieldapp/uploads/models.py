"""A resumable upload: bytes arriving in pieces, before any report uses them."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fieldapp.accounts.models import utcnow
from fieldapp.extensions import db


class Upload(db.Model):
    __tablename__ = "uploads"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    # Bytes held: the length once finished. Until then the tus offset is the spool's size
    # (each chunk is fdatasynced before its offset is answered: uploads.spool), and no chunk
    # writes this row.
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    metadata_header: Mapped[str | None] = mapped_column("metadata", Text)
    filename: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reports.id"), index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def expired(self, now: datetime) -> bool:
        return self.report_id is None and self.expires_at <= now
