"""Reports: a volunteer's claim (what, where, when) and the photos sent with it."""
from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.accounts.models import User, utcnow
from fieldapp.extensions import db

CATEGORIES = ("water", "air", "soil", "solid_waste", "noise", "other")
VERDICTS = ("consistent", "needs_review", "inconsistent")


class Report(db.Model):
    __tablename__ = "reports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    # SHA-256 of the claim and the photos' hashes: tells a retry from a different report.
    fingerprint: Mapped[str] = mapped_column(String(64))
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    category: Mapped[str] = mapped_column(String(16), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The claim exactly as sent, beside the converted WGS-84 point.
    claim_lon: Mapped[float] = mapped_column(Float)
    claim_lat: Mapped[float] = mapped_column(Float)
    claim_crs: Mapped[str] = mapped_column(String(8))
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"), index=True)
    # How the site was linked: "claimed" (sent by the phone), "auto" (nearest site within
    # reach), "manual" (a coordinator); None when unlinked.
    site_link: Mapped[str | None] = mapped_column(String(8))
    site_distance_m: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    # At least one photo counts as verified evidence (see hotspots.scoring).
    verified: Mapped[bool] = mapped_column(default=False)
    # H3 cell (resolution 9) of the WGS-84 point; coarser cells are its parents.
    h3_cell: Mapped[int | None] = mapped_column(BigInteger)

    volunteer: Mapped[User] = relationship()
    photos: Mapped[list[Photo]] = relationship(
        back_populates="report", order_by="Photo.position"
    )


class Photo(db.Model):
    __tablename__ = "photos"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id"), index=True)
    position: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column()
    filename: Mapped[str | None] = mapped_column(String(255))
    exif: Mapped[dict] = mapped_column(JSONB)
    checks: Mapped[dict] = mapped_column(JSONB)
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    capture_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exif_location = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))
    # 64-bit perceptual hash (imagehash.phash) as a signed bigint, for near-duplicate search.
    phash: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    receipt_hash: Mapped[str] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When the pixels were decoded, hashed and compared; None while that is pending.
    analysed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the pixels could not be analysed (over the pixel budget, undecodable); the photo
    # is analysed all the same, with its pixel checks unknown, and never retried in a loop.
    analysis_error: Mapped[str | None] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(default=False)

    report: Mapped[Report] = relationship(back_populates="photos")
    reviews: Mapped[list[Review]] = relationship(  # noqa: F821 (fieldapp.reviews.models)
        order_by="Review.created_at", viewonly=True)

    @property
    def analysis(self) -> str:
        return "pending" if self.analysed_at is None else "done"

    @property
    def review(self):
        """The decision in force: the latest review, or None."""
        return self.reviews[-1] if self.reviews else None
