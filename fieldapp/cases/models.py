"""Cases against a site, their timeline, and the evidence items a lawyer numbers."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.accounts.models import utcnow
from fieldapp.extensions import db
from fieldapp.reports.models import Photo
from fieldapp.sites.models import Site

LEGAL_STATUSES = ("monitoring", "complaint_filed", "disclosure_requested", "litigation_filed",
                  "judged", "closed")


class Case(db.Model):
    __tablename__ = "cases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    authority: Mapped[str | None] = mapped_column(String(300))
    case_number: Mapped[str | None] = mapped_column(String(120))
    legal_status: Mapped[str] = mapped_column(String(32), default="monitoring")
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)

    site: Mapped[Site] = relationship()
    timeline: Mapped[list[CaseEntry]] = relationship(
        order_by="(CaseEntry.happened_on, CaseEntry.created_at)", back_populates="case")
    items: Mapped[list[EvidenceItem]] = relationship(
        order_by="EvidenceItem.position", back_populates="case")


class CaseEntry(db.Model):
    __tablename__ = "case_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    happened_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="timeline")


class EvidenceItem(db.Model):
    __tablename__ = "evidence_items"
    __table_args__ = (UniqueConstraint("case_id", "photo_id", name="evidence_items_once"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    photo_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("photos.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(Text)
    include_rejected: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    case: Mapped[Case] = relationship(back_populates="items")
    photo: Mapped[Photo] = relationship()
