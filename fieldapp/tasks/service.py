"""The monitoring loop: requests, dispatch, claims, visits, evaluations, the expiry sweep.

Each call is one transaction that ends with its commit; every transition is checked by
tasks.rules and recorded in task_events (who, when, from what to what) in that same
transaction. Task transitions live in their own append-only table rather than in the
custody chain: they are the volunteers' service history, not evidence, and the chain's
lock would otherwise be taken by every claim, extension and sweep, beside intake.

Races: a claim takes the volunteer's advisory lock, then the task's row lock, so two claims
on the last slot, or one volunteer's two claims at once, are decided one after the other; a
check-in takes the volunteer's lock before the claim's, so two at once leave one visit open.
Whatever changes a claim locks its row first (a task's, then its claims', where both), and
reads its state only once locked.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask import current_app
from geoalchemy2 import Geography
from sqlalchemy import and_, cast, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import selectinload

from fieldapp.accounts.models import User
from fieldapp.errors import Conflict, Forbidden, NotFound, field_error
from fieldapp.extensions import db
from fieldapp.geo.geometry import point_element, shape_element
from fieldapp.sites.models import Site
from fieldapp.tasks import rules
from fieldapp.tasks.models import (
    Claim,
    Evaluation,
    MonitoringRequest,
    Notification,
    Task,
    TaskEvent,
    TaskReport,
    Visit,
    VolunteerArea,
)

SYSTEM = None  # the actor of what the server does by itself (the expiry sweep)


def _now() -> datetime:
    return datetime.now(UTC)


def claim_ttl_s() -> int:
    """Seconds a claim holds its slot before check-in (FIELDAPP_CLAIM_TTL_S)."""
    return current_app.config["FIELDAPP_CLAIM_TTL_S"]


def _refused(exc: rules.TransitionRefused) -> Conflict:
    return Conflict(str(exc), errors={"status": [f"is {exc.current}"]},
                    sub_code="TRANSITION_REFUSED")


def _event(subject_type: str, subject_id, task_id, action: str, from_status, to_status,
           actor_id, at: datetime, **details) -> None:
    db.session.add(TaskEvent(subject_type=subject_type, subject_id=subject_id,
                             task_id=task_id, action=action, from_status=from_status,
                             to_status=to_status, actor_id=actor_id, at=at,
                             details=details))


def _move(kind: str, row, target: str, actor_id, at: datetime, task_id, action: str,
          current: str | None = None, **details) -> None:
    """Check and make one transition, and record it."""
    current = current or row.status
    try:
        rules.check_transition(kind, current, target)
    except rules.TransitionRefused as exc:
        raise _refused(exc) from None
    row.status, row.status_at = target, at
    _event(kind, row.id, task_id, action, current, target, actor_id, at, **details)


def _notify(user_id, kind: str, message: str, at: datetime, **links) -> None:
    db.session.add(Notification(id=uuid.uuid4(), user_id=user_id, kind=kind, message=message,
                                created_at=at, **links))


def _locked(model, row_id):
    """The row, locked for this transaction and read after the lock (never a stale copy)."""
    return db.session.scalar(select(model).where(model.id == row_id).with_for_update()
                             .execution_options(populate_existing=True))


def _page(stmt, order, args: dict) -> tuple[list, int]:
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    page, size = args["page"], args["page_size"]
    rows = db.session.scalars(stmt.order_by(*order).offset((page - 1) * size).limit(size))
    return list(rows), total


def _site_exists(site_id, field: str) -> None:
    if db.session.get(Site, site_id) is None:
        raise field_error(field, "no such site")


# Requests (点单)

def create_request(data: dict, user: User) -> MonitoringRequest:
    """点单: record a request for a site or a place, pending."""
    now = _now()
    if data.get("site_id") is not None:
        _site_exists(data["site_id"], "site_id")
    request = MonitoringRequest(id=uuid.uuid4(), requester_id=user.id, site_id=data["site_id"],
                                description=data["description"], urgency=data["urgency"],
                                status="pending", status_at=now, created_at=now)
    if place := data.get("location"):
        request.claim_lon, request.claim_lat, request.claim_crs = (
            place["lon"], place["lat"], place["crs"])
        request.location = point_element(*place["wgs84"])
    db.session.add(request)
    _event("request", request.id, None, "requested", None, "pending", user.id, now,
           urgency=request.urgency)
    db.session.commit()
    return request


def get_request(request_id: uuid.UUID, user: User) -> MonitoringRequest:
    """A request its requester or staff may read (404 to anyone else)."""
    request = db.session.get(MonitoringRequest, request_id)
    if request is None or not (user.is_staff or request.requester_id == user.id):
        raise NotFound("no such request")
    return request


def list_requests(user: User, args: dict) -> tuple[list[MonitoringRequest], int]:
    """The user's own requests; staff see everyone's. Newest first."""
    stmt = select(MonitoringRequest).options(selectinload(MonitoringRequest.requester),
                                             selectinload(MonitoringRequest.task))
    if not user.is_staff:
        stmt = stmt.where(MonitoringRequest.requester_id == user.id)
    if args.get("status"):
        stmt = stmt.where(MonitoringRequest.status == args["status"])
    return _page(stmt, (MonitoringRequest.created_at.desc(), MonitoringRequest.id), args)


def decline_request(request_id: uuid.UUID, reason: str, user: User) -> MonitoringRequest:
    """Decline a pending request; the requester is told why."""
    get_request(request_id, user)
    request = _locked(MonitoringRequest, request_id)
    now = _now()
    if request.status != "pending":
        # A dispatched request is declined only by cancelling its task (cancel_task).
        raise _refused(rules.TransitionRefused("request", request.status, "declined"))
    _decline(request, reason.strip(), user.id, now)
    db.session.commit()
    return request


def _decline(request: MonitoringRequest, reason: str, actor_id, at: datetime,
             task_id=None) -> None:
    _move("request", request, "declined", actor_id, at, task_id, "declined", reason=reason)
    request.decline_reason = reason
    _notify(request.requester_id, "request_declined", f"Your request was declined: {reason}",
            at, request_id=request.id, task_id=task_id)


def rate_request(request_id: uuid.UUID, data: dict, user: User) -> MonitoringRequest:
    """The requester rates a done request, once."""
    get_request(request_id, user)
    request = _locked(MonitoringRequest, request_id)
    if request.requester_id != user.id:
        raise Forbidden("only the requester rates the outcome of a request")
    if request.status != "done":
        raise Conflict(f"this request is {request.status}: it can be rated once it is done",
                       errors={"status": [f"is {request.status}"]}, sub_code="NOT_DONE")
    if request.rating is not None:
        raise Conflict("this request was already rated", errors={"rating": ["already given"]},
                       sub_code="ALREADY_RATED")
    now = _now()
    request.rating, request.rating_comment, request.rated_at = (
        data["rating"], data.get("comment"), now)
    _event("request", request.id, request.task.id if request.task else None, "rated",
           "done", "done", user.id, now, rating=data["rating"])
    db.session.commit()
    return request


# Tasks (派单)

def _place_of(task_alias=Task):
    """The task's place: its site's geometry, or its own area or point."""
    return func.coalesce(task_alias.geom, select(Site.geom).where(Site.id == task_alias.site_id)
                         .scalar_subquery())


def _geography(geometry):
    return cast(geometry, Geography)


def create_task(data: dict, user: User) -> Task:
    """Dispatch a task, from a request (which becomes dispatched) or directly, and tell the
    volunteers whose chosen area reaches it."""
    now = _now()
    if data["ends_at"] <= now:
        # Nobody could claim it, yet the volunteers near it would be told of it.
        raise field_error("ends_at", f"has passed ({data['ends_at'].isoformat()}): a task "
                          "is dispatched for a window not yet over")
    request = None
    site_id = data.get("site_id")
    geom = shape_element(data["area"]) if data.get("area") is not None else None
    if data.get("request_id") is not None:
        request = _locked(MonitoringRequest, data["request_id"])
        if request is None:
            raise field_error("request_id", "no such request")
        try:
            rules.check_transition("request", request.status, "dispatched")
        except rules.TransitionRefused as exc:
            raise _refused(exc) from None
        if site_id is None and geom is None:
            # The task goes where it was asked for.
            site_id = request.site_id
            geom = None if site_id else request.location
    if site_id is None and geom is None:
        raise field_error("site_id", "a site_id or an area is required")
    if site_id is not None:
        _site_exists(site_id, "site_id")
    task = Task(id=uuid.uuid4(), request_id=request.id if request else None, site_id=site_id,
                geom=geom,
                title=data["title"].strip(), instructions=data["instructions"],
                starts_at=data["starts_at"], ends_at=data["ends_at"], slots=data["slots"],
                categories=data["categories"], photos_required=data["photos_required"],
                reach_m=data["reach_m"], status="open", status_at=now, created_by=user.id,
                created_at=now)
    db.session.add(task)
    db.session.flush()  # before the rows that name it: they have no ORM relationship to it
    _event("task", task.id, task.id, "dispatched", None, "open", user.id, now,
           request_id=str(request.id) if request else None)
    if request is not None:
        _move("request", request, "dispatched", user.id, now, task.id, "dispatched")
        _notify(request.requester_id, "request_dispatched",
                f"Your request was dispatched as the task “{task.title}”.", now,
                request_id=request.id, task_id=task.id)
    _notify_nearby(task, now)
    db.session.commit()
    return decorate([task])[0]


def _notify_nearby(task: Task, at: datetime) -> None:
    """One notification per volunteer whose chosen area reaches the task's place."""
    place = select(_place_of()).where(Task.id == task.id).scalar_subquery()
    near = func.ST_DWithin(_geography(VolunteerArea.location), _geography(place),
                           VolunteerArea.radius_m)
    message = f"A monitoring task near you: “{task.title}”."
    db.session.execute(insert(Notification).from_select(
        ["id", "user_id", "kind", "message", "task_id", "created_at"],
        select(func.gen_random_uuid(), VolunteerArea.user_id, literal("task_nearby"),
               literal(message), literal(task.id), literal(at))
        .where(near, VolunteerArea.user_id != task.created_by)))


def _slot_holders(task_ids, now: datetime):
    """Claims holding a slot now (an active one only until it expires)."""
    return and_(Claim.task_id.in_(task_ids), Claim.status.in_(rules.HOLDS_SLOT),
                or_(Claim.status != "active", Claim.expires_at > now))


def decorate(tasks: list[Task], now: datetime | None = None) -> list[Task]:
    """Attach what a task shows beside its row: slots taken now and its last feedback."""
    if not tasks:
        return tasks
    now = now or _now()
    ids = [task.id for task in tasks]
    taken = dict(db.session.execute(
        select(Claim.task_id, func.count()).where(_slot_holders(ids, now))
        .group_by(Claim.task_id)).all())
    feedback = {row.task_id: row for row in db.session.scalars(
        select(Evaluation).where(Evaluation.task_id.in_(ids), Evaluation.reason.is_not(None),
                                 func.length(func.trim(Evaluation.reason)) > 0)
        .order_by(Evaluation.task_id, Evaluation.created_at.desc())
        .ext(distinct_on(Evaluation.task_id)))}
    for task in tasks:
        task.slots_taken = taken.get(task.id, 0)
        task.last_feedback = feedback.get(task.id)
    return tasks


def list_tasks(user: User, args: dict) -> tuple[list[Task], int]:
    """Volunteers see open tasks not yet ended; staff see all (or those of a status). With
    `near`, only tasks within radius_m of the point, nearest first, with their distance."""
    now = _now()
    stmt = select(Task).options(selectinload(Task.site))
    if not user.is_staff:
        if args.get("status", "open") != "open":
            raise field_error("status", "volunteers see open tasks only", cls=Forbidden)
        stmt = stmt.where(Task.status == "open", Task.ends_at > now)
    elif args.get("status"):
        stmt = stmt.where(Task.status == args["status"])
    order = (Task.created_at.desc(), Task.id)
    distance = None
    if near := args.get("near"):
        point = _geography(func.ST_SetSRID(func.ST_MakePoint(*near), 4326))
        place = _geography(_place_of())
        distance = func.ST_Distance(place, point)
        stmt = stmt.where(func.ST_DWithin(place, point, args["radius_m"]))
        order = (distance, Task.id)
    tasks, total = _page(stmt, order, args)
    if distance is not None and tasks:
        metres = dict(db.session.execute(
            select(Task.id, distance).where(Task.id.in_([t.id for t in tasks]))).all())
        for task in tasks:
            task.distance_m = round(float(metres[task.id]), 1)
    return decorate(tasks, now), total


def get_task(task_id: uuid.UUID, user: User) -> Task:
    """Volunteers see open tasks and those they have claimed; staff see every task."""
    task = db.session.get(Task, task_id)
    if task is None or not (user.is_staff or task.status == "open" or db.session.scalar(
            select(Claim.id).where(Claim.task_id == task_id, Claim.volunteer_id == user.id)
            .limit(1))):
        raise NotFound("no such task")
    return decorate([task])[0]


def end_task(task_id: uuid.UUID, target: str, reason: str | None, user: User) -> Task:
    """Complete or cancel a task. Claims not yet on site are cancelled; a task is never
    ended under a volunteer on site or waiting for an evaluation (409 naming them)."""
    task = _locked(Task, task_id)
    if task is None:
        raise NotFound("no such task")
    now = _now()
    try:
        rules.check_transition("task", task.status, target)
    except rules.TransitionRefused as exc:
        raise _refused(exc) from None
    claims = list(db.session.scalars(
        select(Claim).where(Claim.task_id == task.id).with_for_update()
        .execution_options(populate_existing=True)))
    under_way = [claim for claim in claims if claim.status in rules.UNDER_WAY]
    if under_way:
        raise Conflict(f"{len(under_way)} claim(s) of this task are under way (checked in or "
                       "awaiting evaluation): evaluate them first",
                       errors={"claims": [str(claim.id) for claim in under_way]},
                       sub_code="CLAIMS_UNDER_WAY")
    for claim in claims:
        current = rules.claim_status(claim.status, claim.expires_at, now)
        if current in ("active", "needs_more"):
            _cancel_claim(claim, current, user.id, now, f"the task was {target}")
    _end(task, target, reason, user.id, now)
    db.session.commit()
    return decorate([task])[0]


def _end(task: Task, target: str, reason: str | None, actor_id, at: datetime) -> None:
    _move("task", task, target, actor_id, at, task.id, target, reason=reason)
    if task.request_id is None:
        return
    request = _locked(MonitoringRequest, task.request_id)
    if target == "completed":
        _move("request", request, "done", actor_id, at, task.id, "done")
        _notify(request.requester_id, "request_done",
                f"The task for your request is done: “{task.title}”. You can rate it.", at,
                request_id=request.id, task_id=task.id)
    else:
        _decline(request, f"the task was cancelled{': ' + reason if reason else ''}",
                 actor_id, at, task_id=task.id)


def task_claims(task_id: uuid.UUID) -> list[Claim]:
    """Every claim of a task, oldest first (staff)."""
    if db.session.get(Task, task_id) is None:
        raise NotFound("no such task")
    return list(db.session.scalars(_claims_query().where(Claim.task_id == task_id)
                                   .order_by(Claim.claimed_at, Claim.id)))


def task_events(task_id: uuid.UUID) -> list[TaskEvent]:
    """Every recorded transition of the task, its claims, and its request, oldest first."""
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound("no such task")
    subjects = [TaskEvent.task_id == task.id]
    if task.request_id:
        subjects.append(TaskEvent.subject_id == task.request_id)
    return list(db.session.scalars(
        select(TaskEvent).where(or_(*subjects)).options(selectinload(TaskEvent.actor))
        .order_by(TaskEvent.seq)))


# Claims (接单)

def _claims_query():
    return select(Claim).options(
        selectinload(Claim.task), selectinload(Claim.volunteer), selectinload(Claim.visits),
        selectinload(Claim.evaluations).selectinload(Evaluation.evaluator),
        selectinload(Claim.reports))


def _volunteer_lock(user: User) -> None:
    """The volunteer's own lock, taken before any row lock: what one volunteer does with
    their claims (claiming, arriving) is decided one step at a time."""
    db.session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                       {"key": f"claims:{user.id}"})


def claim_task(task_id: uuid.UUID, user: User) -> Claim:
    """Take one slot of an open task until the claim expires (FIELDAPP_CLAIM_TTL_S)."""
    # The volunteer's lock first, then the task's: one volunteer's claims are decided one
    # at a time, and so are a task's slots.
    _volunteer_lock(user)
    task = _locked(Task, task_id)
    if task is None:
        raise NotFound("no such task")
    now = _now()
    if task.status != "open":
        raise Conflict(f"this task is {task.status}: only an open task can be claimed",
                       errors={"status": [f"is {task.status}"]}, sub_code="TASK_NOT_OPEN")
    if task.ends_at <= now:
        raise Conflict(f"this task ended at {task.ends_at.isoformat()}",
                       errors={"ends_at": ["has passed"]}, sub_code="TASK_ENDED")
    mine = list(db.session.scalars(select(Claim).where(
        Claim.volunteer_id == user.id, Claim.status.in_(rules.IN_HAND + rules.HOLDS_SLOT))))
    if any(claim.task_id == task.id and rules.holds_slot(claim.status, claim.expires_at, now)
           for claim in mine):
        raise Conflict("you already hold a claim on this task",
                       errors={"task_id": ["already claimed by you"]}, sub_code="CLAIMED")
    in_hand = [claim for claim in mine
               if rules.claim_status(claim.status, claim.expires_at, now) in rules.IN_HAND]
    limit = current_app.config["FIELDAPP_MAX_ACTIVE_CLAIMS"]
    if len(in_hand) >= limit:
        raise Conflict(f"you already hold {len(in_hand)} claim(s) in hand (at most {limit}): "
                       "finish, or cancel, claim " + ", ".join(str(c.id) for c in in_hand),
                       errors={"claims": [str(claim.id) for claim in in_hand]},
                       sub_code="CLAIM_LIMIT")
    taken = db.session.scalar(select(func.count()).where(_slot_holders([task.id], now)))
    if taken >= task.slots:
        raise Conflict(f"this task is full: all {task.slots} slot(s) are taken",
                       errors={"slots": [f"{taken} of {task.slots} taken"]},
                       sub_code="TASK_FULL")
    claim = Claim(id=uuid.uuid4(), task_id=task.id, volunteer_id=user.id, status="active",
                  status_at=now, claimed_at=now,
                  expires_at=rules.expires_after(now, claim_ttl_s()))
    db.session.add(claim)
    _event("claim", claim.id, task.id, "claimed", None, "active", user.id, now,
           expires_at=claim.expires_at.isoformat())
    db.session.commit()
    return get_claim(claim.id, user)


def get_claim(claim_id: uuid.UUID, user: User) -> Claim:
    """A claim its volunteer or staff may read (404 to anyone else)."""
    claim = db.session.scalar(_claims_query().where(Claim.id == claim_id))
    if claim is None or not (user.is_staff or claim.volunteer_id == user.id):
        raise NotFound("no such claim")
    return claim


def _own_claim(claim_id: uuid.UUID, user: User, doing: str) -> Claim:
    """The claimant's claim, locked; staff who are not the claimant get 403."""
    get_claim(claim_id, user)
    claim = _locked(Claim, claim_id)
    if claim.volunteer_id != user.id:
        raise Forbidden(f"only the volunteer who claimed it can {doing}")
    return claim


def _current(claim: Claim, now: datetime) -> str:
    return rules.claim_status(claim.status, claim.expires_at, now)


def extend_claim(claim_id: uuid.UUID, user: User) -> Claim:
    """Give an active claim a full TTL from now."""
    claim = _own_claim(claim_id, user, "extend this claim")
    now = _now()
    current = _current(claim, now)
    if current != "active":
        raise Conflict(f"this claim is {current}: only an active claim can be extended",
                       errors={"status": [f"is {current}"]}, sub_code="TRANSITION_REFUSED")
    before = claim.expires_at
    claim.expires_at = rules.expires_after(now, claim_ttl_s())
    _event("claim", claim.id, claim.task_id, "extended", "active", "active", user.id, now,
           expires_at_before=before.isoformat(), expires_at=claim.expires_at.isoformat())
    db.session.commit()
    return get_claim(claim.id, user)


def check_in(claim_id: uuid.UUID, place: dict, user: User) -> Claim:
    """Arrive on site: accepted only within the task's reach of its place, and only while
    the volunteer is on no other site (one visit at a time, so no hour counts twice)."""
    _volunteer_lock(user)
    claim = _own_claim(claim_id, user, "check in")
    now = _now()
    current = _current(claim, now)
    try:
        rules.check_transition("claim", current, "checked_in")
    except rules.TransitionRefused as exc:
        raise _refused(exc) from None
    elsewhere = list(db.session.scalars(select(Claim).where(
        Claim.volunteer_id == user.id, Claim.status == "checked_in", Claim.id != claim.id)
        .options(selectinload(Claim.task))))
    if elsewhere:
        raise Conflict(
            "you are checked in on another task (“" + elsewhere[0].task.title + "”): check "
            "out there first; on-site time is counted for one visit at a time",
            errors={"claims": [str(other.id) for other in elsewhere]},
            sub_code="ON_SITE_ELSEWHERE")
    task = db.session.get(Task, claim.task_id)
    if task.status != "open":
        raise Conflict(f"this task is {task.status}", errors={"status": [f"is {task.status}"]},
                       sub_code="TASK_NOT_OPEN")
    if problem := rules.window_problem(task.starts_at, task.ends_at, now):
        field = "starts_at" if now < task.starts_at else "ends_at"
        raise Conflict(f"check-in refused: {problem}", errors={field: [problem]},
                       sub_code="OUTSIDE_WINDOW")
    lon, lat = place["wgs84"]
    metres = _metres_from(task, place)
    if problem := rules.reach_problem(metres, task.reach_m):
        raise field_error("location", problem, sub_code="OUT_OF_REACH")
    db.session.add(Visit(id=uuid.uuid4(), claim_id=claim.id, checked_in_at=now,
                         claim_lon=place["lon"], claim_lat=place["lat"], claim_crs=place["crs"],
                         location=point_element(lon, lat), distance_m=round(metres, 1)))
    _move("claim", claim, "checked_in", user.id, now, task.id, "checked_in", current=current,
          distance_m=round(metres, 1))
    db.session.commit()
    return get_claim(claim.id, user)


def _metres_from(task: Task, place: dict) -> float:
    """How far a phone's place (a loaded PlaceSchema) is from the task's place."""
    lon, lat = place["wgs84"]
    point = _geography(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326))
    return float(db.session.scalar(
        select(func.ST_Distance(_geography(_place_of()), point)).where(Task.id == task.id)))


def check_out(claim_id: uuid.UUID, user: User, place: dict | None = None) -> Claim:
    """Leave the site. Checked out where the task is (`place` within its reach), the visit's
    on-site time is check-out minus check-in, counted no further than the end of the task's
    window; checked out with no place, or from farther away, it counts up to the last sign
    of presence (rules.left_at: the latest report sent during the visit, else the check-in),
    since the way home is not service. A coordinator may close the visit of a volunteer who
    left without checking out (the task is never ended under a volunteer on site, and
    waiting for its window to end may be waiting for weeks); they are told."""
    claim = _claimant_or_coordinator(claim_id, user, "check out")
    now = _now()
    task = db.session.get(Task, claim.task_id)
    by_claimant = user.id == claim.volunteer_id
    metres = _metres_from(task, place) if by_claimant and place is not None else None
    on_site = metres is not None and rules.reach_problem(metres, task.reach_m) is None
    # The claimant's check-out says whether it was sent from the site; a coordinator's
    # closes the visit of someone who is no longer there.
    details = ({"on_site": on_site, "distance_m": None if metres is None else round(metres, 1)}
               if by_claimant else {})
    _move("claim", claim, "checked_out", user.id, now, claim.task_id, "checked_out", **details)
    if on_site:
        _close_visit(claim, now, task.ends_at)
    else:
        left = _close_abandoned_visit(claim, task.ends_at)
        if not by_claimant:
            _notify(claim.volunteer_id, "visit_closed",
                    f"“{task.title}”: a coordinator closed your visit, as you had not checked "
                    f"out; it counts up to your last report or your check-in "
                    f"({left.isoformat()}), and it is evaluated now.", now, claim_id=claim.id,
                    task_id=claim.task_id)
    db.session.commit()
    return get_claim(claim.id, user)


def _claimant_or_coordinator(claim_id: uuid.UUID, user: User, doing: str) -> Claim:
    """The claim, locked, for its volunteer or a coordinator (other staff: 403)."""
    claim = get_claim(claim_id, user)
    if claim.volunteer_id != user.id and user.role not in ("coordinator", "admin"):
        raise Forbidden(f"only the claimant or a coordinator can {doing}")
    return _locked(Claim, claim_id)


def _open_visit(claim: Claim) -> Visit:
    return db.session.scalar(select(Visit).where(
        Visit.claim_id == claim.id, Visit.checked_out_at.is_(None)).with_for_update())


def _close_visit(claim: Claim, at: datetime, ends_at: datetime,
                 visit: Visit | None = None) -> None:
    """End the claim's open visit at `at`, or at the task's end if that came first: the
    visit as the record and a certificate's period state it is on-site time, and its
    on_site_s is always its check-out minus its check-in (the check-out's own time is the
    event's)."""
    visit = visit or _open_visit(claim)
    visit.checked_out_at = min(at, ends_at)
    visit.on_site_s = rules.on_site_seconds(visit.checked_in_at, at, ends_at)


def _close_abandoned_visit(claim: Claim, ends_at: datetime) -> datetime:
    """Close, for the volunteer, a visit they never checked out of: at their last sign of
    presence (rules.left_at). Returns when it is taken to have ended."""
    visit = _open_visit(claim)
    last_report = db.session.scalar(select(func.max(TaskReport.created_at)).where(
        TaskReport.claim_id == claim.id, TaskReport.created_at >= visit.checked_in_at))
    left = rules.left_at(visit.checked_in_at, last_report, ends_at)
    _close_visit(claim, left, ends_at, visit)
    return left


def cancel_claim(claim_id: uuid.UUID, reason: str | None, user: User) -> Claim:
    """Give up a claim not yet on site (or sent back for more): its slot is free again.
    The claimant or a coordinator may."""
    claim = _claimant_or_coordinator(claim_id, user, "cancel a claim")
    now = _now()
    _cancel_claim(claim, _current(claim, now), user.id, now, reason)
    db.session.commit()
    return get_claim(claim.id, user)


def _cancel_claim(claim: Claim, current: str, actor_id, at: datetime, reason) -> None:
    _move("claim", claim, "cancelled", actor_id, at, claim.task_id, "cancelled",
          current=current, reason=reason)
    if actor_id != claim.volunteer_id:
        _notify(claim.volunteer_id, "claim_cancelled",
                f"Your claim was cancelled{': ' + reason if reason else ''}.", at,
                claim_id=claim.id, task_id=claim.task_id)


def evaluate(claim_id: uuid.UUID, data: dict, user: User) -> Claim:
    """评单: accept the claim's work, or ask for more (with the reason the volunteer, and
    whoever takes the task next, read first). Accepted work that fills every slot completes
    the task (and its request)."""
    found = get_claim(claim_id, user)
    if found.volunteer_id == user.id:
        raise Forbidden("no one evaluates their own claim")
    task = _locked(Task, found.task_id)
    claim = _locked(Claim, claim_id)
    now = _now()
    decision = data["decision"]
    reason = (data.get("reason") or "").strip() or None
    if problem := rules.evaluation_problem(decision, reason):
        raise field_error("reason", problem)
    _move("claim", claim, decision, user.id, now, task.id, "evaluated", rating=data["rating"],
          reason=reason)
    db.session.add(Evaluation(id=uuid.uuid4(), claim_id=claim.id, task_id=task.id,
                              decision=decision, reason=reason, rating=data["rating"],
                              evaluator_id=user.id, created_at=now))
    more = ("Please go back for more (check in again on site, send the reports, check out)"
            f": {reason}" if decision == "needs_more" else "Your work was accepted.")
    _notify(claim.volunteer_id, f"claim_{decision}", f"“{task.title}”: {more}", now,
            claim_id=claim.id, task_id=task.id)
    db.session.flush()
    accepted = db.session.scalar(select(func.count()).where(
        Claim.task_id == task.id, Claim.status == "accepted"))
    if task.status == "open" and rules.fills_task(accepted, task.slots):
        _end(task, "completed", "every slot's work was accepted", user.id, now)
    db.session.commit()
    return get_claim(claim.id, user)


def my_claims(user: User, args: dict) -> tuple[list[Claim], int]:
    """The volunteer's own claims, newest first."""
    return _page(_claims_query().where(Claim.volunteer_id == user.id),
                 (Claim.claimed_at.desc(), Claim.id), args)


# Reports sent for a task

def reporting_claim(user: User, task_id: uuid.UUID) -> Claim:
    """The claim a report sent with `task_id` counts toward, locked until the report is
    stored; a 422 naming report.task_id when the sender is not on it now."""
    field = "report.task_id"
    if db.session.get(Task, task_id) is None:
        raise field_error(field, "no such task")
    claims = list(db.session.scalars(
        select(Claim).where(Claim.task_id == task_id, Claim.volunteer_id == user.id)
        .order_by(Claim.claimed_at.desc()).with_for_update()
        .execution_options(populate_existing=True)))
    reporting = [claim for claim in claims if claim.status in rules.REPORTING]
    if reporting:
        return reporting[0]
    if not claims:
        raise field_error(field, "you hold no claim on this task")
    now = _now()
    current = rules.claim_status(claims[0].status, claims[0].expires_at, now)
    raise field_error(field, f"your claim is {current}: reports count toward a task only "
                             "while checked in or checked out, before the evaluation")


def count_report(claim: Claim, report_id: uuid.UUID, user: User, at: datetime) -> None:
    """Count a stored report toward the claim's task (in the submission's transaction)."""
    db.session.add(TaskReport(report_id=report_id, claim_id=claim.id, task_id=claim.task_id,
                              created_at=at))
    _event("claim", claim.id, claim.task_id, "report_counted", claim.status, claim.status,
           user.id, at, report_id=str(report_id))


# The expiry sweep (a background job)

def sweep_claims(now: datetime | None = None) -> tuple[int, int]:
    """Mark active claims past their expiry `expired` (their slot is free already: slots
    count only unexpired claims), warn the volunteers whose claims expire within
    FIELDAPP_CLAIM_WARN_S, once per expiry, and close the visits still open when their
    task has ended. Returns (expired, warned)."""
    now = now or _now()
    # An UPDATE that re-checks its WHERE once it has the row: a claim checked in meanwhile
    # is left alone.
    expired = db.session.execute(
        update(Claim).where(Claim.status == "active", Claim.expires_at <= now)
        .values(status="expired", status_at=now)
        .returning(Claim.id, Claim.task_id, Claim.volunteer_id, Claim.expires_at)).all()
    for row in expired:
        _event("claim", row.id, row.task_id, "expired", "active", "expired", SYSTEM, now,
               expires_at=row.expires_at.isoformat())
        _notify(row.volunteer_id, "claim_expired",
                "Your claim expired and its slot was freed; claim the task again if you "
                "still mean to go.", now, claim_id=row.id, task_id=row.task_id)
    warn_s = current_app.config["FIELDAPP_CLAIM_WARN_S"]
    warned = 0
    if warn_s > 0:
        window_start = Claim.expires_at - func.make_interval(0, 0, 0, 0, 0, 0, warn_s)
        already = select(Notification.id).where(
            Notification.claim_id == Claim.id, Notification.kind == "claim_expiring",
            Notification.created_at >= window_start).exists()
        due = db.session.execute(select(Claim.id, Claim.task_id, Claim.volunteer_id,
                                        Claim.expires_at).where(
            Claim.status == "active", Claim.expires_at > now, window_start <= now,
            ~already)).all()
        for row in due:
            minutes = max(1, round((row.expires_at - now).total_seconds() / 60))
            _notify(row.volunteer_id, "claim_expiring",
                    f"Your claim expires in about {minutes} min: check in or extend it.", now,
                    claim_id=row.id, task_id=row.task_id)
        warned = len(due)
    if closed := _close_visits_past_window(now):
        current_app.logger.info("claims: %d visit(s) closed at the end of their task", closed)
    db.session.commit()
    return len(expired), warned


def _close_visits_past_window(now: datetime) -> int:
    """Close the visits of volunteers still checked in when their task's window has ended:
    a volunteer who walked away without checking out would otherwise hold the task open
    for good (it is never ended under a volunteer on site). The visit counts up to the last
    sign of presence (rules.left_at), not to the task's end; the claim is then checked
    out, by the server, and waits for its evaluation like any other."""
    stale = db.session.execute(
        select(Claim, Task.ends_at, Task.title).join(Task, Task.id == Claim.task_id)
        .where(Claim.status == "checked_in", Task.ends_at <= now)
        .with_for_update(of=Claim, skip_locked=True)
        .execution_options(populate_existing=True)).all()
    for claim, ends_at, title in stale:
        _move("claim", claim, "checked_out", SYSTEM, now, claim.task_id, "checked_out",
              closed_at=ends_at.isoformat(), reason="the task ended before a check-out")
        left = _close_abandoned_visit(claim, ends_at)
        _notify(claim.volunteer_id, "visit_closed",
                f"“{title}” ended while you were checked in: your visit was closed, counted "
                f"up to your last report or your check-in ({left.isoformat()}), and a "
                "coordinator evaluates it now.", now, claim_id=claim.id, task_id=claim.task_id)
    return len(stale)


# The volunteer's own side

def put_area(user: User, data: dict) -> VolunteerArea:
    """Set (or replace) where the volunteer is willing to go."""
    place, now = data["location"], _now()
    values = {"claim_lon": place["lon"], "claim_lat": place["lat"], "claim_crs": place["crs"],
              "location": point_element(*place["wgs84"]), "radius_m": data["radius_m"],
              "updated_at": now}
    db.session.execute(insert(VolunteerArea).values(user_id=user.id, **values)
                       .on_conflict_do_update(index_elements=["user_id"], set_=values))
    db.session.commit()
    return get_area(user)


def get_area(user: User) -> VolunteerArea:
    """The volunteer's chosen area (404 until one is chosen)."""
    area = db.session.get(VolunteerArea, user.id, populate_existing=True)
    if area is None:
        raise NotFound("no area chosen yet: PUT one")
    return area


def my_notifications(user: User, args: dict) -> tuple[list[Notification], int]:
    """The user's notifications, newest first; with `unread`, only those not marked read."""
    stmt = select(Notification).where(Notification.user_id == user.id)
    if args.get("unread"):
        stmt = stmt.where(Notification.read_at.is_(None))
    return _page(stmt, (Notification.created_at.desc(), Notification.id), args)


def unread_count(user: User) -> int:
    """How many of the user's notifications are not marked read."""
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))


def mark_read(user: User, data: dict) -> dict:
    """Mark the user's own notifications read: `ids`, all created `up_to` a time, or `all`.

    Others' ids match nothing, exactly as unknown ones, so the answer never tells whether a
    notification exists; one already read keeps the time it was first read.
    """
    now = _now()
    stmt = update(Notification).where(Notification.user_id == user.id,
                                      Notification.read_at.is_(None))
    if "ids" in data:
        stmt = stmt.where(Notification.id.in_(data["ids"]))
    elif "up_to" in data:
        stmt = stmt.where(Notification.created_at <= data["up_to"])
    marked = db.session.execute(stmt.values(read_at=now).execution_options(
        synchronize_session=False)).rowcount
    unread = unread_count(user)
    db.session.commit()
    return {"marked": marked, "read_at": now, "unread": unread}
