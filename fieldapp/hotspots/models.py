"""What hotspot maps read: H3 cells, per-day hex counts, each site's stored risk."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from fieldapp.extensions import db


class H3Cell(db.Model):
    __tablename__ = "h3_cells"

    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    res: Mapped[int] = mapped_column(SmallInteger)
    center = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    boundary = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False),
                             nullable=False)


class HexCount(db.Model):
    __tablename__ = "hex_counts"

    res: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell: Mapped[int] = mapped_column(BigInteger, ForeignKey("h3_cells.cell"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    verified: Mapped[bool] = mapped_column(primary_key=True)
    reports: Mapped[int] = mapped_column(Integer)


class SiteRisk(db.Model):
    __tablename__ = "site_risk"

    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    components: Mapped[dict] = mapped_column(JSONB)
    open_cases: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
