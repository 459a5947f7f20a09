from flask import Response
from flask.views import MethodView

from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.complaints import service
from fieldapp.complaints.schemas import (
    ComplaintInSchema,
    ComplaintListArgsSchema,
    ComplaintPageSchema,
    ComplaintSchema,
    StatusPatchSchema,
    UpdateInSchema,
    UpdateSchema,
)

blp = Blueprint("complaints", __name__, url_prefix="/api/v1/complaints",
                description="Complaints filed with the authorities, their deadlines and "
                            "dated updates")
READERS = ("coordinator", "lawyer", "admin")
WRITERS = ("coordinator", "admin")


@blp.route("")
class Complaints(MethodView):
    @require(*READERS)
    @blp.arguments(ComplaintListArgsSchema, location="query")
    @blp.response(200, ComplaintPageSchema)
    def get(self, args):
        """Complaints, newest filing first; by site_id, status, and overdue=true (a
        deadline passed with no answer)."""
        items, total = service.list_complaints(args)
        return {"items": items, "total": total, "page": args["page"],
                "page_size": args["page_size"]}

    @require(*WRITERS)
    @blp.arguments(ComplaintInSchema)
    @blp.response(201, ComplaintSchema)
    @blp.alt_response(409, description="This number is already recorded for the channel "
                      "and authority.")
    def post(self, data):
        """Record a complaint as filed; its deadlines are computed and stored."""
        return service.file_complaint(data, current_user())


@blp.route("/<uuid:complaint_id>")
class ComplaintById(MethodView):
    @require(*READERS)
    @blp.response(200, ComplaintSchema)
    def get(self, complaint_id):
        """One complaint with its deadlines and updates."""
        return service.get_complaint(complaint_id)

    @require(*WRITERS)
    @blp.arguments(StatusPatchSchema)
    @blp.response(200, ComplaintSchema)
    @blp.alt_response(409, description="The status cannot move there from where it is.")
    def patch(self, data, complaint_id):
        """Move the status: recorded as an update of that kind, like POST …/updates."""
        service.add_update(complaint_id, data, current_user())
        return service.get_complaint(complaint_id)


@blp.route("/<uuid:complaint_id>/updates")
class ComplaintUpdates(MethodView):
    @require(*READERS)
    @blp.response(200, UpdateSchema(many=True))
    def get(self, complaint_id):
        """The complaint's updates in the order they happened."""
        return service.get_complaint(complaint_id).updates

    @require(*WRITERS)
    @blp.arguments(UpdateInSchema)
    @blp.response(201, UpdateSchema)
    @blp.alt_response(409, description="The status cannot move there from where it is.")
    def post(self, data, complaint_id):
        """Record what the authority did (a custody event): a new status, an extension of
        the result deadline (with its reason), or a note."""
        return service.add_update(complaint_id, data, current_user())


@blp.route("/<uuid:complaint_id>/packet")
class ComplaintPacket(MethodView):
    @require(*READERS)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf",
                  description="The complaint letter (PDF, Chinese) citing the photos of the "
                  "cited reports; the export is a custody event.")
    def get(self, complaint_id):
        """The complaint packet: a PDF letter with the photos' hashes, times and a map."""
        complaint, letter = service.export_packet(complaint_id, current_user())
        response = Response(letter, mimetype="application/pdf")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="complaint-{complaint.id.hex[:8]}.pdf"')
        return response
