from marshmallow import Schema, fields, validate

from fieldapp.cases.models import LEGAL_STATUSES


class EntryInSchema(Schema):
    date = fields.Date(required=True, data_key="date", attribute="happened_on")
    text = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class EntrySchema(Schema):
    id = fields.UUID()
    date = fields.Date(attribute="happened_on")
    text = fields.String()


class CaseInSchema(Schema):
    site_id = fields.UUID(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    authority = fields.String(allow_none=True, validate=validate.Length(max=300),
                              metadata={"description": "court or authority"})
    case_number = fields.String(allow_none=True, validate=validate.Length(max=120))
    legal_status = fields.String(load_default="monitoring",
                                 validate=validate.OneOf(LEGAL_STATUSES))
    timeline = fields.List(fields.Nested(EntryInSchema), load_default=list)


class CasePatchSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=300))
    authority = fields.String(allow_none=True, validate=validate.Length(max=300))
    case_number = fields.String(allow_none=True, validate=validate.Length(max=120))
    legal_status = fields.String(validate=validate.OneOf(LEGAL_STATUSES))


class CaseSchema(Schema):
    id = fields.UUID()
    site_id = fields.UUID()
    site_name = fields.String(attribute="site.name")
    title = fields.String()
    authority = fields.String(allow_none=True)
    case_number = fields.String(allow_none=True)
    legal_status = fields.String()
    timeline = fields.List(fields.Nested(EntrySchema))
    item_count = fields.Function(lambda case: len(case.items))
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")


class CaseListArgsSchema(Schema):
    site_id = fields.UUID()
    legal_status = fields.String(validate=validate.OneOf(LEGAL_STATUSES))


class ItemInSchema(Schema):
    photo_id = fields.UUID(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300),
                          metadata={"description": "证据名称: what the item is"})
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=5000),
                            metadata={"description": "证明目的: what it proves"})
    include_rejected = fields.Boolean(load_default=False, metadata={
        "description": "include a photo rejected in review, on purpose; the dossier says so"})


class ItemSchema(Schema):
    id = fields.UUID()
    number = fields.Function(lambda item: item.position + 1)
    photo_id = fields.UUID()
    title = fields.String()
    purpose = fields.String()
    include_rejected = fields.Boolean()
    sha256 = fields.String(attribute="photo.sha256")
    verdict = fields.String(attribute="photo.verdict")
    review = fields.Function(lambda item: item.photo.review.decision if item.photo.review
                             else None)


class ItemOrderSchema(Schema):
    item_ids = fields.List(fields.UUID(), required=True,
                           metadata={"description": "every item id of the case, in new order"})
