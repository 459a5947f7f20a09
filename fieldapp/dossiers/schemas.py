from marshmallow import Schema, fields


class DossierSchema(Schema):
    id = fields.UUID()
    case_id = fields.UUID()
    number = fields.Integer()
    label = fields.String()
    created_at = fields.DateTime(format="iso")
    item_count = fields.Integer()
    total_bytes = fields.Integer()
    manifest_sha256 = fields.String()
    custody_hash = fields.String(metadata={"description": "hash of the 'exported' event"})
    links = fields.Function(lambda d: {"self": f"/api/v1/dossiers/{d.id}",
                                       "download": f"/api/v1/dossiers/{d.id}/download",
                                       "manifest": f"/api/v1/dossiers/{d.id}/manifest"})


class PublicKeySchema(Schema):
    algorithm = fields.String()
    public_key_pem = fields.String()
    fingerprint = fields.String(metadata={"description": "SHA256 of the DER public key"})
