from flask.views import MethodView

from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.volunteers import service
from fieldapp.volunteers.schemas import VolunteerOverviewSchema

blp = Blueprint("volunteers", __name__, url_prefix="/api/v1/volunteers",
                description="A volunteer's own view")


@blp.route("/me")
class Me(MethodView):
    @require(full=True)
    @blp.response(200, VolunteerOverviewSchema)
    def get(self):
        """Your reports with verdicts and review reasons, claims, hours and notifications."""
        return service.my_overview(current_user())
