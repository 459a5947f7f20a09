"""The request class: uploaded files stream into hashing spools inside the data dir."""
from __future__ import annotations

import io

from flask import Request, current_app

from fieldapp.errors import PayloadTooLarge
from fieldapp.storage.blobs import TooLarge


BODY_READ_BYTES = 1024 * 1024


class _RawInput(io.RawIOBase):
    """The WSGI input as a raw stream, so io.BufferedReader can read ahead on it."""

    def __init__(self, source):
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


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
        self._buffer_input()
        try:
            super()._load_form_data()
        except TooLarge as exc:
            limit_mb = exc.args[0] / (1024 * 1024)
            message = f"a photo is larger than the {limit_mb:g} MB limit"
            raise PayloadTooLarge(f"photos: {message}", errors={"photos": [message]},
                                  sub_code="PHOTO_TOO_LARGE") from None

    def _buffer_input(self) -> None:
        """Read the body in large pieces, whatever size the form parser asks for.

        werkzeug's parser reads 64 KiB at a time. gunicorn's reader keeps read-ahead in a
        buffer that it copies whole on every read, so small reads of a large upload cost
        time proportional to the square of its size; one 1 MiB read-ahead here does not.
        """
        if "stream" in self.__dict__ or "_fieldapp_buffered" in self.environ:
            return  # the body is already being read; wrapping it now would lose bytes
        source = self.environ.get("wsgi.input")
        if source is None:
            return
        self.environ["wsgi.input"] = io.BufferedReader(_RawInput(source), BODY_READ_BYTES)
        self.environ["_fieldapp_buffered"] = True

    def close(self) -> None:
        try:
            super().close()
        finally:
            for spool in self.__dict__.get("_spools", ()):
                spool.close()
