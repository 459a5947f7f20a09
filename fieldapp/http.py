"""The request class: uploaded files stream into hashing spools inside the data dir."""
from __future__ import annotations

from flask import Request, current_app

from fieldapp.errors import PayloadTooLarge
from fieldapp.storage.blobs import TooLarge


class EvidenceRequest(Request):
    """Each uploaded file part is written to a HashingSpool as it arrives.

    The spools are remembered so that every temp file is removed when the request ends,
    whether parsing finished, failed half-way (oversized part, client gone) or succeeded.
    """

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        store = current_app.extensions["blob_store"]
        spool = store.spool(current_app.config["FIELDAPP_MAX_PHOTO_BYTES"])
        self.__dict__.setdefault("_spools", []).append(spool)
        return spool

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except TooLarge as exc:
            limit_mb = exc.args[0] / (1024 * 1024)
            message = f"a photo is larger than the {limit_mb:g} MB limit"
            raise PayloadTooLarge(f"photos: {message}", errors={"photos": [message]},
                                  sub_code="PHOTO_TOO_LARGE") from None

    def close(self) -> None:
        try:
            super().close()
        finally:
            for spool in self.__dict__.get("_spools", ()):
                spool.close()
