from flask.views import MethodView

from fieldapp.accounts.auth import current_user, require
from fieldapp.arguments import Blueprint
from fieldapp.reviews import service
from fieldapp.reviews.schemas import ReviewInSchema, ReviewSchema

blp = Blueprint("reviews", __name__, url_prefix="/api/v1/photos",
                description="Coordinators' review of photos")


@blp.route("/<uuid:photo_id>/reviews")
class PhotoReviews(MethodView):
    @require("coordinator", "admin")
    @blp.arguments(ReviewInSchema)
    @blp.response(201, ReviewSchema)
    def post(self, review, photo_id):
        """Accept, reject (with a reason) or ask for more; the latest decision counts."""
        return service.review_photo(photo_id, review["decision"], review["reason"],
                                    current_user())

    @require("coordinator", "lawyer", "admin")
    @blp.response(200, ReviewSchema(many=True))
    def get(self, photo_id):
        """Every decision on this photo, oldest first."""
        return service.reviews_of(photo_id, current_user())
