"""The request class: uploaded files stream into hashing spools inside the data dir."""
from __future__ import annotations

import io

from flask import Request, current_app
from werkzeug.formparser import FormDataParser, MultiPartParser

from fieldapp.errors import PayloadTooLarge
from fieldapp.storage.blobs import TooLarge

# gunicorn keeps what it has read ahead in a buffer that it copies whole on every read, so
# reading a large upload in small pieces costs time growing with the square of its size.
# The body is therefore read from gunicorn 1 MiB at a time (BODY_READ_BYTES) into a
# buffer that serves the form parser's smaller reads without copying it again.
BODY_READ_BYTES = 1024 * 1024
# The parser's own reads: each is a round through the pure-Python multipart decoder, so
# fewer is faster, but its buffer must stay below MAX_FORM_MEMORY_SIZE (500 kB by default).
PARSER_READ_BYTES = 256 * 1024


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


class LargeReadFormDataParser(FormDataParser):
    """werkzeug's form parser with reads of PARSER_READ_BYTES instead of 64 KiB (werkzeug 3
    has no public setting for it; the tests post uploads of every size through it)."""

    def _parse_multipart(self, stream, mimetype, content_length, options):
        limit = self.max_form_memory_size
        parser = MultiPartParser(
            stream_factory=self.stream_factory, max_form_memory_size=limit,
            max_form_parts=self.max_form_parts, cls=self.cls,
            buffer_size=min(PARSER_READ_BYTES, limit // 2) if limit else PARSER_READ_BYTES)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class EvidenceRequest(Request):
    """Each uploaded file part is written to a HashingSpool as it arrives.

    The spools are remembered so that every temp file is removed when the request ends,
    whether parsing finished, failed half-way (oversized part, client gone) or succeeded.
    """

    form_data_parser_class = LargeReadFormDataParser

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
        if "stream" in self.__dict__ or "fieldapp.buffered" in self.environ:
            return  # the body is already being read; wrapping it now would lose bytes
        source = self.environ.get("wsgi.input")
        if source is not None:
            self.environ["wsgi.input"] = io.BufferedReader(_RawInput(source), BODY_READ_BYTES)
            self.environ["fieldapp.buffered"] = True

    def close(self) -> None:
        try:
            super().close()
        finally:
            for spool in self.__dict__.get("_spools", ()):
                spool.close()
