"""The monitoring loop over HTTP: 点单 (requests), 派单 (tasks), 接单 (claims), 评单
(evaluations), and the volunteer's chosen area, claims and notifications."""
from flask.views import MethodView

from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.tasks import service
from fieldapp.tasks.schemas import (
    AreaInSchema,
    AreaSchema,
    CheckInSchema,
    CheckOutSchema,
    ClaimPageSchema,
    ClaimSchema,
    DeclineSchema,
    EvaluationInSchema,
    NotificationArgsSchema,
    NotificationPageSchema,
    NotificationsReadInSchema,
    NotificationsReadSchema,
    PageArgsSchema,
    RatingInSchema,
    ReasonSchema,
    RequestInSchema,
    RequestListArgsSchema,
    RequestPageSchema,
    RequestSchema,
    TaskEventSchema,
    TaskInSchema,
    TaskListArgsSchema,
    TaskPageSchema,
    TaskSchema,
)

COORDINATORS = ("coordinator", "admin")
STAFF = ("coordinator", "lawyer", "admin")
REFUSED = "The current state does not allow this; the message names it."

requests_blp = Blueprint("requests", __name__, url_prefix="/api/v1/requests",
                         description="点单: asking for a site or a place to be monitored")
tasks_blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks",
                      description="派单: monitoring tasks, dispatched by coordinators")
claims_blp = Blueprint("claims", __name__, url_prefix="/api/v1/claims",
                       description="接单 and 评单: claims, check-in and -out, evaluation")
volunteer_blp = Blueprint("volunteer_tasks", __name__, url_prefix="/api/v1/volunteers/me",
                          description="A volunteer's area, claims and notifications")


def _page(items_total, args) -> dict:
    items, total = items_total
    return {"items": items, "total": total, "page": args["page"],
            "page_size": args["page_size"]}


@requests_blp.route("")
class Requests(MethodView):
    @require()
    @requests_blp.arguments(RequestListArgsSchema, location="query")
    @requests_blp.response(200, RequestPageSchema)
    def get(self, args):
        """Your requests, newest first (staff: everyone's)."""
        return _page(service.list_requests(current_user(), args), args)

    @require()
    @requests_blp.arguments(RequestInSchema)
    @requests_blp.response(201, RequestSchema)
    def post(self, data):
        """Ask for monitoring of a site (`site_id`) or a place (`location`, any crs)."""
        return service.create_request(data, current_user())


@requests_blp.route("/<uuid:request_id>")
class RequestById(MethodView):
    @require()
    @requests_blp.response(200, RequestSchema)
    def get(self, request_id):
        """One request (its requester or staff)."""
        return service.get_request(request_id, current_user())


@requests_blp.route("/<uuid:request_id>/decline")
class RequestDecline(MethodView):
    @require(*COORDINATORS)
    @requests_blp.arguments(DeclineSchema)
    @requests_blp.response(200, RequestSchema)
    @requests_blp.alt_response(409, description=REFUSED)
    def post(self, data, request_id):
        """Decline a pending request, with the reason the requester reads."""
        return service.decline_request(request_id, data["reason"], current_user())


@requests_blp.route("/<uuid:request_id>/rating")
class RequestRating(MethodView):
    @require()
    @requests_blp.arguments(RatingInSchema)
    @requests_blp.response(200, RequestSchema)
    @requests_blp.alt_response(409, description="Not done yet, or already rated.")
    def post(self, data, request_id):
        """The requester rates the outcome of a done request, once (1–5, a comment)."""
        return service.rate_request(request_id, data, current_user())


@tasks_blp.route("")
class Tasks(MethodView):
    @require()
    @tasks_blp.arguments(TaskListArgsSchema, location="query")
    @tasks_blp.response(200, TaskPageSchema)
    def get(self, args):
        """Open tasks (staff: all); `near=lon,lat` with `radius_m` and `crs`: nearest first."""
        return _page(service.list_tasks(current_user(), args), args)

    @require(*COORDINATORS)
    @tasks_blp.arguments(TaskInSchema)
    @tasks_blp.response(201, TaskSchema)
    @tasks_blp.alt_response(409, description="The request is no longer pending.")
    def post(self, data):
        """Dispatch a task, from a request (`request_id`) or directly; volunteers whose
        area reaches it are notified."""
        return service.create_task(data, current_user())


@tasks_blp.route("/<uuid:task_id>")
class TaskById(MethodView):
    @require()
    @tasks_blp.response(200, TaskSchema)
    def get(self, task_id):
        """One task, with its slots taken and the last feedback given on its work."""
        return service.get_task(task_id, current_user())


@tasks_blp.route("/<uuid:task_id>/claims")
class TaskClaims(MethodView):
    @require(*STAFF)
    @tasks_blp.response(200, ClaimSchema(many=True))
    def get(self, task_id):
        """Every claim of the task, oldest first."""
        return service.task_claims(task_id)

    @require()
    @tasks_blp.response(201, ClaimSchema)
    @tasks_blp.alt_response(409, description="The task is full, not open, or you already "
                                             "hold a claim (at most FIELDAPP_MAX_ACTIVE_CLAIMS).")
    def post(self, task_id):
        """Claim a slot: held until `expires_at` (FIELDAPP_CLAIM_TTL_S) unless extended."""
        return service.claim_task(task_id, current_user())


@tasks_blp.route("/<uuid:task_id>/complete")
class TaskComplete(MethodView):
    @require(*COORDINATORS)
    @tasks_blp.arguments(ReasonSchema)
    @tasks_blp.response(200, TaskSchema)
    @tasks_blp.alt_response(409, description=REFUSED)
    def post(self, data, task_id):
        """Complete the task (its request is then done); claims not on site are cancelled."""
        return service.end_task(task_id, "completed", data.get("reason"), current_user())


@tasks_blp.route("/<uuid:task_id>/cancel")
class TaskCancel(MethodView):
    @require(*COORDINATORS)
    @tasks_blp.arguments(ReasonSchema)
    @tasks_blp.response(200, TaskSchema)
    @tasks_blp.alt_response(409, description=REFUSED)
    def post(self, data, task_id):
        """Cancel the task (its request is declined with the reason)."""
        return service.end_task(task_id, "cancelled", data.get("reason"), current_user())


@tasks_blp.route("/<uuid:task_id>/events")
class TaskEvents(MethodView):
    @require(*STAFF)
    @tasks_blp.response(200, TaskEventSchema(many=True))
    def get(self, task_id):
        """Every transition of the task, its claims and its request: who, when, what."""
        return service.task_events(task_id)


@claims_blp.route("/<uuid:claim_id>")
class ClaimById(MethodView):
    @require()
    @claims_blp.response(200, ClaimSchema)
    def get(self, claim_id):
        """One claim (its volunteer or staff), with the time left and its feedback first."""
        return service.get_claim(claim_id, current_user())


@claims_blp.route("/<uuid:claim_id>/extend")
class ClaimExtend(MethodView):
    @require()
    @claims_blp.response(200, ClaimSchema)
    @claims_blp.alt_response(409, description=REFUSED)
    def post(self, claim_id):
        """Hold the slot a full FIELDAPP_CLAIM_TTL_S from now (an active claim only)."""
        return service.extend_claim(claim_id, current_user())


@claims_blp.route("/<uuid:claim_id>/check-in")
class ClaimCheckIn(MethodView):
    @require()
    @claims_blp.arguments(CheckInSchema)
    @claims_blp.response(200, ClaimSchema)
    @claims_blp.alt_response(409, description=REFUSED)
    def post(self, data, claim_id):
        """Arrive on site: accepted within the task's reach_m (422 naming the distance)."""
        return service.check_in(claim_id, data["location"], current_user())


@claims_blp.route("/<uuid:claim_id>/check-out")
class ClaimCheckOut(MethodView):
    @require()
    @claims_blp.arguments(CheckOutSchema)
    @claims_blp.response(200, ClaimSchema)
    @claims_blp.alt_response(409, description=REFUSED)
    def post(self, data, claim_id):
        """Leave the site: checked out within reach, the visit counts up to now (and the
        task's end); otherwise up to the last report sent during it. A coordinator may close
        the visit of a volunteer who left without."""
        return service.check_out(claim_id, current_user(), data["location"])


@claims_blp.route("/<uuid:claim_id>/cancel")
class ClaimCancel(MethodView):
    @require()
    @claims_blp.arguments(ReasonSchema)
    @claims_blp.response(200, ClaimSchema)
    @claims_blp.alt_response(409, description=REFUSED)
    def post(self, data, claim_id):
        """Give up a claim that is active or sent back for more (the claimant or a
        coordinator): its slot is free again."""
        return service.cancel_claim(claim_id, data.get("reason"), current_user())


@claims_blp.route("/<uuid:claim_id>/evaluation")
class ClaimEvaluation(MethodView):
    @require(*COORDINATORS)
    @claims_blp.arguments(EvaluationInSchema)
    @claims_blp.response(200, ClaimSchema)
    @claims_blp.alt_response(409, description=REFUSED)
    def post(self, data, claim_id):
        """Evaluate a checked-out claim: accepted, or needs_more with a reason (the
        volunteer checks in again, reports more, checks out, and is evaluated again)."""
        return service.evaluate(claim_id, data, current_user())


@volunteer_blp.route("/area")
class VolunteerArea(MethodView):
    @require(full=True)
    @volunteer_blp.response(200, AreaSchema)
    def get(self):
        """Where you are willing to go."""
        return service.get_area(current_user())

    @require()
    @volunteer_blp.arguments(AreaInSchema)
    @volunteer_blp.response(200, AreaSchema)
    def put(self, data):
        """Choose where you are willing to go: tasks dispatched within radius_m notify you."""
        return service.put_area(current_user(), data)


@volunteer_blp.route("/claims")
class VolunteerClaims(MethodView):
    @require(full=True)
    @volunteer_blp.arguments(PageArgsSchema, location="query")
    @volunteer_blp.response(200, ClaimPageSchema)
    def get(self, args):
        """Your claims, newest first, each with its task, time left and feedback."""
        return _page(service.my_claims(current_user(), args), args)


@volunteer_blp.route("/notifications")
class VolunteerNotifications(MethodView):
    @require(full=True)
    @volunteer_blp.arguments(NotificationArgsSchema, location="query")
    @volunteer_blp.response(200, NotificationPageSchema)
    def get(self, args):
        """Your notifications, newest first (`unread=true`: only those not marked read),
        with how many are unread in all."""
        user = current_user()
        return {**_page(service.my_notifications(user, args), args),
                "unread": service.unread_count(user)}


@volunteer_blp.route("/notifications/read")
class VolunteerNotificationsRead(MethodView):
    @require()
    @volunteer_blp.arguments(NotificationsReadInSchema)
    @volunteer_blp.response(200, NotificationsReadSchema)
    def post(self, data):
        """Mark your notifications read: the `ids` shown, every one created `up_to` the
        newest shown (what a phone wants: one that arrived meanwhile stays unread), or
        `all`. Ids that are not yours are ignored like unknown ones."""
        return service.mark_read(current_user(), data)
