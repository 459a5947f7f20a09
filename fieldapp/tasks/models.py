"""Monitoring requests, tasks, claims, their visits and evaluations, and the record of every
transition; volunteers' chosen areas and the notifications dispatch leaves them."""
from __future__ import annotations

import uuid
from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldapp.accounts.models import User, utcnow
from fieldapp.extensions import db
from fieldapp.sites.models import Site


class MonitoringRequest(db.Model):
    """点单: someone asks for a site or a place to be watched."""

    __tablename__ = "monitoring_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    requester_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    # The place exactly as sent, beside the converted WGS-84 point.
    claim_lon: Mapped[float | None] = mapped_column(Float)
    claim_lat: Mapped[float | None] = mapped_column(Float)
    claim_crs: Mapped[str | None] = mapped_column(String(8))
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    description: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    requester: Mapped[User] = relationship()
    site: Mapped[Site | None] = relationship()
    task: Mapped[Task | None] = relationship(
        primaryjoin="Task.request_id == MonitoringRequest.id", uselist=False, viewonly=True)


class Task(db.Model):
    """派单: a coordinator sends volunteers to a site or an area, with what to capture."""

    __tablename__ = "tasks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("monitoring_requests.id"), unique=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"), index=True)
    # The area (a Polygon), or the point of the request it came from; None with a site,
    # whose own geometry is then the task's place.
    geom = mapped_column(Geometry("GEOMETRY", srid=4326, spatial_index=False))
    title: Mapped[str] = mapped_column(String(300))
    instructions: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    slots: Mapped[int] = mapped_column(Integer)
    categories: Mapped[list] = mapped_column(JSONB)
    photos_required: Mapped[int] = mapped_column(Integer)
    reach_m: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    site: Mapped[Site | None] = relationship()
    claims: Mapped[list[Claim]] = relationship(back_populates="task",
                                               order_by="Claim.claimed_at")


class Claim(db.Model):
    """接单: one volunteer holds one of a task's slots."""

    __tablename__ = "claims"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), index=True)
    volunteer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    task: Mapped[Task] = relationship(back_populates="claims")
    volunteer: Mapped[User] = relationship()
    visits: Mapped[list[Visit]] = relationship(order_by="Visit.checked_in_at")
    evaluations: Mapped[list[Evaluation]] = relationship(order_by="Evaluation.created_at")
    reports: Mapped[list[TaskReport]] = relationship(order_by="TaskReport.created_at")

    @property
    def evaluation(self) -> Evaluation | None:
        """The evaluation in force: the latest."""
        return self.evaluations[-1] if self.evaluations else None

    @property
    def on_site_s(self) -> int:
        return sum(visit.on_site_s or 0 for visit in self.visits)


class Visit(db.Model):
    """One stay on site, from check-in to check-out (travel is not on-site time)."""

    __tablename__ = "claim_visits"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"), index=True)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claim_lon: Mapped[float] = mapped_column(Float)
    claim_lat: Mapped[float] = mapped_column(Float)
    claim_crs: Mapped[str] = mapped_column(String(8))
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    distance_m: Mapped[float] = mapped_column(Float)
    checked_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    on_site_s: Mapped[int | None] = mapped_column(Integer)


class Evaluation(db.Model):
    """评单: a coordinator's decision on a claim's work; every one is kept."""

    __tablename__ = "claim_evaluations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"), index=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int] = mapped_column(SmallInteger)
    evaluator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    evaluator: Mapped[User] = relationship()


class TaskReport(db.Model):
    """A report sent for a task by its claimant: it counts toward the task."""

    __tablename__ = "task_reports"

    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id"), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"), index=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TaskEvent(db.Model):
    """One transition of a request, task or claim: who, when, from what to what."""

    __tablename__ = "task_events"

    # In the order recorded: the events of one transaction share their time.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    task_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    # None when the server itself acted (the expiry sweep).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    details: Mapped[dict] = mapped_column(JSONB, default=dict)

    actor: Mapped[User | None] = relationship()


class VolunteerArea(db.Model):
    """Where a volunteer is willing to go: dispatch near it notifies them."""

    __tablename__ = "volunteer_areas"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    claim_lon: Mapped[float] = mapped_column(Float)
    claim_lat: Mapped[float] = mapped_column(Float)
    claim_crs: Mapped[str] = mapped_column(String(8))
    location = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    radius_m: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(db.Model):
    """Something a user should know: a task near them, a claim running out, an evaluation,
    a review of their photo. Only its reading ever changes it (read_at, once)."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    message: Mapped[str] = mapped_column(Text)
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id"))
    claim_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("claims.id"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("monitoring_requests.id"))
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reports.id"))
    photo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("photos.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
