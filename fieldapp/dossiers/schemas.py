from marshmallow import Schema, fields


def _status(record) -> str:
    # A dossier row exists only once frozen; a freeze in progress or failed has its own.
    return getattr(record, "status", "frozen")


def _progress(record) -> dict:
    if _status(record) == "frozen":
        return {"step": "frozen", "done": record.item_count, "total": record.item_count}
    return {"step": record.step, "done": record.done, "total": record.total}


def _links(record) -> dict:
    links = {"self": f"/api/v1/dossiers/{record.id}"}
    if _status(record) == "frozen":
        links.update(download=f"/api/v1/dossiers/{record.id}/download",
                     manifest=f"/api/v1/dossiers/{record.id}/manifest")
    return links


class DossierSchema(Schema):
    id = fields.UUID()
    case_id = fields.UUID()
    status = fields.Function(_status, metadata={
        "description": "freezing, frozen or failed", "enum": ["freezing", "frozen", "failed"]})
    progress = fields.Function(_progress, metadata={
        "description": "the freeze's current step (queued, analysis, previews, catalog, "
                       "frozen) and how far it is: done of total"})
    error = fields.String(metadata={"description": "why the freeze failed"})
    requested_at = fields.DateTime(format="iso")
    number = fields.Integer()
    label = fields.String()
    created_at = fields.DateTime(format="iso")
    item_count = fields.Integer()
    total_bytes = fields.Integer()
    manifest_sha256 = fields.String()
    custody_hash = fields.String(metadata={"description": "hash of the 'exported' event"})
    links = fields.Function(_links)


class PublicKeySchema(Schema):
    algorithm = fields.String()
    public_key_pem = fields.String()
    fingerprint = fields.String(metadata={"description": "SHA256 of the DER public key"})
