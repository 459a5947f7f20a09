"""A complaint as filed, and the dated updates that record what the authority did.

What was filed and every update are bound into the custody chain (custody.binding); the
database lets the app move only a complaint's status columns (migration 0011).
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.complaints import rules
from fieldapp.extensions import db
from fieldapp.sites.models import Site


class Complaint(db.Model):
    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(120))
    authority: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    report_ids: Mapped[list[str]] = mapped_column(JSONB)
    filed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accept_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    custody_hash: Mapped[str] = mapped_column(String(64))

    site: Mapped[Site] = relationship()
    updates: Mapped[list[ComplaintUpdate]] = relationship(
        order_by="(ComplaintUpdate.occurred_at, ComplaintUpdate.created_at)",
        back_populates="complaint")

    def standing(self) -> rules.Standing:
        return rules.Standing(self.status, self.filed_at, self.accept_due_at,
                              self.result_due_at, self.extension_days, self.decided_at,
                              self.replied_at)

    # As of the moment they are read: a deadline lapses without anything being written.
    @property
    def deadlines(self) -> dict:
        return rules.deadlines(self.standing(), datetime.now(UTC))

    @property
    def lapsed(self) -> list[str]:
        return rules.lapsed(self.standing(), datetime.now(UTC))

    @property
    def overdue(self) -> bool:
        return bool(self.lapsed)

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return rules.NEXT.get(self.status, ())


class ComplaintUpdate(db.Model):
    __tablename__ = "complaint_updates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("complaints.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reply_text: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    penalty_number: Mapped[str | None] = mapped_column(String(120))
    extension_days: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    # Further evidence (kind supplemented only): report ids as text, in the order sent.
    report_ids: Mapped[list[str] | None] = mapped_column(JSONB(none_as_null=True))
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    custody_hash: Mapped[str] = mapped_column(String(64))

    complaint: Mapped[Complaint] = relationship(back_populates="updates")
