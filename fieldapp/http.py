"""The request class: uploaded files stream into hashing spools inside the data dir.

A multipart/form-data body is parsed by python-multipart, the parser Starlette uses:
its callbacks hand over each piece of a part as offsets into the chunk read, so a photo
goes from the socket to the spool's hash and file with no copy of its own. (werkzeug's
parser, which Flask would use, copies every piece several times; for evidence uploads of
megabytes that was most of the CPU a submission cost.) Everything else about the request
is Flask's.
"""
from __future__ import annotations

from flask import Request, current_app
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from werkzeug.datastructures import FileStorage, Headers, ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from fieldapp.errors import BadRequest, PayloadTooLarge, field_error
from fieldapp.storage import chunks
from fieldapp.storage.blobs import TooLarge

# Bodies that carry files keep the app's large cap (MAX_CONTENT_LENGTH); every other body
# (JSON, forms) gets FIELDAPP_MAX_JSON_BYTES, so a sign-in cannot make a worker read megabytes.
UPLOAD_MIMETYPES = frozenset({"multipart/form-data", "application/octet-stream",
                              "application/offset+octet-stream"})


class EvidenceRequest(Request):
    """Each uploaded file part is written to a HashingSpool as it arrives.

    The spools are remembered so that every temp file is removed when the request ends,
    whether parsing finished, failed half-way (oversized part, client gone) or succeeded.

    A view may set upload_allowance before the body is read (the file bytes this request
    may still bring, e.g. what is left of a daily quota) and refuse_upload (called with the
    bytes spooled when that is passed; it raises): the body is then cut off as it streams.
    """

    upload_allowance: int | None = None
    refuse_upload = None

    @property
    def max_content_length(self) -> int | None:
        """werkzeug refuses a Content-Length above this before reading, and stops a
        streamed body at it."""
        limit = super().max_content_length
        if self._max_content_length is not None or self.mimetype in UPLOAD_MIMETYPES:
            return limit
        small = current_app.config["FIELDAPP_MAX_JSON_BYTES"]
        return small if limit is None else min(limit, small)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    def get_data(self, *args, **kwargs):
        try:
            return super().get_data(*args, **kwargs)
        except RequestEntityTooLarge:
            message = f"the body is larger than the {self.max_content_length} bytes allowed"
            raise PayloadTooLarge(message, errors={"body": [message]},
                                  sub_code="BODY_TOO_LARGE") from None

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        store = current_app.extensions["blob_store"]
        spools = self.__dict__.setdefault("_spools", [])
        limit = current_app.config["FIELDAPP_MAX_PHOTOS"]
        if len(spools) >= limit:
            # Refused before this part reaches the disk: a body of thousands of small files
            # must not become thousands of temp files.
            raise field_error("photos", f"at most {limit} photos per report",
                              sub_code="TOO_MANY_PHOTOS")
        spool = store.spool(current_app.config["FIELDAPP_MAX_PHOTO_BYTES"])
        spools.append(spool)
        return spool

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        boundary = self.mimetype_params.get("boundary")
        if self.mimetype != "multipart/form-data" or not boundary:
            super()._load_form_data()
            return
        reader = _MultipartReader(boundary, self._get_file_stream,
                                  self.max_form_memory_size, self.max_form_parts,
                                  self.upload_allowance, self.refuse_upload)
        try:
            reader.read_all(self.stream)
        except TooLarge as exc:
            limit_mb = exc.args[0] / (1024 * 1024)
            message = f"a photo is larger than the {limit_mb:g} MB limit"
            raise PayloadTooLarge(f"photos: {message}", errors={"photos": [message]},
                                  sub_code="PHOTO_TOO_LARGE") from None
        except MultipartParseError as exc:
            message = f"the multipart/form-data body is malformed: {exc}"
            raise BadRequest(message, errors={"body": [message]},
                             sub_code="MALFORMED_MULTIPART") from None
        self.__dict__["form"] = ImmutableMultiDict(reader.fields)
        self.__dict__["files"] = ImmutableMultiDict(reader.files)

    def close(self) -> None:
        try:
            super().close()
        finally:
            for spool in self.__dict__.get("_spools", ()):
                spool.close()


class _MultipartReader:
    """The parts of one multipart/form-data body: text fields in memory, files in spools."""

    def __init__(self, boundary: str, open_file, max_field_bytes: int | None,
                 max_parts: int | None, max_file_bytes: int | None = None, refuse=None):
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []
        self._open_file = open_file
        self._max_file_bytes, self._refuse = max_file_bytes, refuse
        self._file_bytes = 0
        self._max_field_bytes = max_field_bytes
        self._max_parts = max_parts
        self._parts = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_name = self._header_value = b""
        self._part: _Part | None = None
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value_piece, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        })

    def read_all(self, stream) -> None:
        # Each chunk is valid until the next is read: the callbacks hash, write or copy it.
        for chunk in chunks.from_stream(stream):
            self._parser.write(chunk)
        self._parser.finalize()
        if self._parser.state != MultipartState.END:
            # The client went away, or sent less than it announced.
            raise MultipartParseError("the body ends before its closing boundary")

    def _part_begin(self) -> None:
        self._parts += 1
        if self._max_parts is not None and self._parts > self._max_parts:
            message = f"more than {self._max_parts} parts in the form"
            raise PayloadTooLarge(message, errors={"body": [message]})
        self._headers = []

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_piece(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers.append((self._header_name, self._header_value))
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._headers])
        _, options = parse_options_header(headers.get("Content-Disposition"))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            self._part = _Part(name, headers, None, None)
            return
        content_type = headers.get("Content-Type", "application/octet-stream")
        stream = self._open_file(None, content_type, filename.decode("utf-8", "replace"))
        self._part = _Part(name, headers, filename.decode("utf-8", "replace"), stream)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part.stream is not None:
            self._file_bytes += end - start
            if self._max_file_bytes is not None and self._file_bytes > self._max_file_bytes:
                self._refuse(self._file_bytes)
            part.stream.write(memoryview(data)[start:end])
            return
        part.value += data[start:end]
        if self._max_field_bytes is not None and len(part.value) > self._max_field_bytes:
            message = f"larger than {self._max_field_bytes} bytes"
            raise PayloadTooLarge(f"{part.name}: {message}", errors={part.name: [message]})

    def _part_end(self) -> None:
        part, self._part = self._part, None
        if part.stream is None:
            self.fields.append((part.name, part.value.decode("utf-8", "replace")))
            return
        part.stream.seek(0)
        self.files.append((part.name, FileStorage(part.stream, part.filename, part.name,
                                                  headers=part.headers)))


class _Part:
    def __init__(self, name: str, headers: Headers, filename: str | None, stream):
        self.name, self.headers, self.filename, self.stream = name, headers, filename, stream
        self.value = bytearray()
