from flask.views import MethodView

from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.cases import service
from fieldapp.cases.schemas import (
    CaseInSchema,
    CaseListArgsSchema,
    CasePatchSchema,
    CaseSchema,
    EntryInSchema,
    ItemInSchema,
    ItemOrderSchema,
    ItemSchema,
)

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases",
                description="Cases against sites and their numbered evidence items")
CASE_EDITORS = ("coordinator", "lawyer", "admin")
ITEM_EDITORS = ("lawyer", "admin")


@blp.route("")
class Cases(MethodView):
    @require(*CASE_EDITORS)
    @blp.arguments(CaseListArgsSchema, location="query")
    @blp.response(200, CaseSchema(many=True))
    def get(self, args):
        """Cases, newest first; filter by site_id or legal_status."""
        return service.list_cases(args)

    @require(*CASE_EDITORS)
    @blp.arguments(CaseInSchema)
    @blp.response(201, CaseSchema)
    def post(self, data):
        """Open a case against a site."""
        return service.create_case(data, current_user())


@blp.route("/<uuid:case_id>")
class CaseById(MethodView):
    @require(*CASE_EDITORS)
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """One case with its timeline."""
        return service.get_case(case_id)

    @require(*CASE_EDITORS)
    @blp.arguments(CasePatchSchema)
    @blp.response(200, CaseSchema)
    def patch(self, changes, case_id):
        """Change title, authority, case number or legal status (noted on the timeline)."""
        return service.update_case(case_id, changes)


@blp.route("/<uuid:case_id>/timeline")
class CaseTimeline(MethodView):
    @require(*CASE_EDITORS)
    @blp.arguments(EntryInSchema)
    @blp.response(201, CaseSchema)
    def post(self, entry, case_id):
        """Add a dated entry to the case's timeline."""
        return service.add_entry(case_id, entry)


@blp.route("/<uuid:case_id>/items")
class CaseItems(MethodView):
    @require(*CASE_EDITORS)
    @blp.response(200, ItemSchema(many=True))
    def get(self, case_id):
        """The evidence items in order; the order gives each its number."""
        return service.get_case(case_id).items

    @require(*ITEM_EDITORS)
    @blp.arguments(ItemInSchema)
    @blp.response(201, ItemSchema)
    def post(self, data, case_id):
        """Attach a photo as the next evidence item, with what it proves (证明目的)."""
        return service.add_item(case_id, data, current_user())


@blp.route("/<uuid:case_id>/items/order")
class CaseItemOrder(MethodView):
    @require(*ITEM_EDITORS)
    @blp.arguments(ItemOrderSchema)
    @blp.response(200, ItemSchema(many=True))
    def put(self, order, case_id):
        """Reorder the items: send every item id once, in the new order."""
        return service.reorder_items(case_id, order["item_ids"])


@blp.route("/<uuid:case_id>/items/<uuid:item_id>")
class CaseItem(MethodView):
    @require(*ITEM_EDITORS)
    @blp.response(204)
    @blp.alt_response(409, description="The item was frozen into a dossier: it stays.")
    def delete(self, case_id, item_id):
        """Take an item off the case (not one frozen into a dossier); the photo stays."""
        service.remove_item(case_id, item_id)
