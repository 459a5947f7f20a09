"""Corrections of service records and their resolutions, training, certificates issued, and
real names kept in their own table so that no query of users or reports can carry them by
accident."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Numeric, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.accounts.models import utcnow
from fieldapp.extensions import db


class Correction(db.Model):
    """A volunteer says a line of their record is wrong (append-only)."""

    __tablename__ = "service_record_corrections"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    resolution: Mapped[Resolution | None] = relationship(uselist=False)

    @property
    def status(self) -> str:
        return self.resolution.decision if self.resolution else "pending"


class Resolution(db.Model):
    """A coordinator's decision on a correction: one, for good (append-only)."""

    __tablename__ = "service_record_resolutions"

    correction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_record_corrections.id"), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    resolver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Identity(db.Model):
    """A volunteer's real name and identity document, where the NGO records them."""

    __tablename__ = "volunteer_identities"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    real_name: Mapped[str] = mapped_column(String(100))
    document_type: Mapped[str | None] = mapped_column(String(32))
    document_number: Mapped[str | None] = mapped_column(String(64))
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Certificate(db.Model):
    """A service certificate issued: its fields, their digest and the signed PDF's digest."""

    __tablename__ = "certificates"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    fields: Mapped[dict] = mapped_column(JSONB)
    fields_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    key_fingerprint: Mapped[str] = mapped_column(String(80))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    issued_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))


class Training(db.Model):
    """Training a volunteer received, as an admin recorded it (append-only)."""

    __tablename__ = "volunteer_trainings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    held_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    organiser: Mapped[str | None] = mapped_column(String(300))
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
