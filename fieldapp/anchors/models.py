"""Anchors: RFC 3161 tokens over the custody chain's head (append-only, like the chain)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    LargeBinary,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from fieldapp.accounts.models import utcnow
from fieldapp.extensions import db


class Anchor(db.Model):
    __tablename__ = "custody_anchors"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("custody_events.seq"))
    hash: Mapped[str] = mapped_column(String(64))
    tsa_url: Mapped[str] = mapped_column(Text)
    gen_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    serial_number: Mapped[Decimal] = mapped_column(Numeric(60, 0))
    # The DER TimeStampResp as received, so the dossier ships the authority's own bytes.
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
