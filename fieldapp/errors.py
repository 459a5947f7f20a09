"""The one error family and the one JSON error shape.

Every error leaves the API as
``{"code", "status", "message", "errors"?: {field: [...]}, "sub_code"?}``.
Code raises a typed ``FieldappError`` (or lets webargs raise a 422); views never build
error dicts.
"""
from __future__ import annotations

from flask_smorest import Api
from werkzeug.exceptions import HTTPException


class FieldappError(HTTPException):
    """Base of every error the API reports on purpose."""

    code = 400
    sub_code: str | None = None

    def __init__(self, message: str, *, errors: dict | None = None, sub_code: str | None = None):
        super().__init__(description=message)
        self.data = {"message": message}
        if errors:
            self.data["errors"] = errors
        if sub_code or self.sub_code:
            self.data["sub_code"] = sub_code or self.sub_code


class BadRequest(FieldappError):
    code = 400


class Unauthorized(FieldappError):
    code = 401


class Forbidden(FieldappError):
    code = 403


class NotFound(FieldappError):
    code = 404


class Conflict(FieldappError):
    code = 409


class Gone(FieldappError):
    code = 410


class PreconditionFailed(FieldappError):
    code = 412


class PayloadTooLarge(FieldappError):
    code = 413


class UnsupportedMediaType(FieldappError):
    code = 415


class Unprocessable(FieldappError):
    code = 422


class ChecksumMismatch(FieldappError):
    """460, tus's own status for a chunk whose Upload-Checksum does not match its body."""

    code = 460
    name = "Checksum Mismatch"


class ServiceUnavailable(FieldappError):
    """503: the server would not finish in time (a query hit its statement timeout)."""

    code = 503


class TooManyRequests(FieldappError):
    """429 with the whole seconds to wait in Retry-After (RFC 9110), so clients back off."""

    code = 429

    def __init__(self, message: str, *, retry_after: int, errors: dict | None = None,
                 sub_code: str | None = None):
        super().__init__(message, errors=errors, sub_code=sub_code)
        self.retry_after = max(1, int(retry_after))
        self.data["headers"] = {"Retry-After": str(self.retry_after)}


def field_error(field: str, message: str, cls=Unprocessable, sub_code: str | None = None):
    """An error about one named input field."""
    return cls(f"{field}: {message}", errors={field: [message]}, sub_code=sub_code)


class ErrorShapingApi(Api):
    """flask-smorest's Api whose single HTTP error handler also carries message and sub_code."""

    def handle_http_exception(self, error):
        payload, code, headers = super().handle_http_exception(error)
        data = getattr(error, "data", None) or {}
        if "messages" in data and "errors" in payload:
            # webargs nests by location (json, query, form, files); the API names fields.
            payload["errors"] = flatten_field_errors(payload["errors"])
        payload.setdefault("message", _summary(payload.get("errors")) or _default_message(error))
        if data.get("sub_code"):
            payload["sub_code"] = data["sub_code"]
        if code == 401:
            headers = {**headers, "WWW-Authenticate": 'Bearer realm="fieldapp"'}
        return payload, code, headers


WEBARGS_LOCATIONS = ("json", "query", "form", "files", "headers", "cookies", "view_args",
                     "path", "querystring", "json_or_form", "multipart")


def flatten_field_errors(nested: dict) -> dict[str, list[str]]:
    """{"json": {"location": {"lat": [...]}}} → {"location.lat": [...]}; list items as [i]."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if isinstance(key, int):
                    walk(f"{prefix}[{key}]", inner)
                elif not prefix and key in WEBARGS_LOCATIONS:
                    walk("", inner)
                else:
                    walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            messages = value if isinstance(value, list) else [value]
            flat.setdefault(prefix or "_schema", []).extend(str(m) for m in messages)

    walk("", nested)
    return flat


def _summary(errors: dict | None) -> str | None:
    if not errors:
        return None
    field, messages = next(iter(errors.items()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{field}: {messages[0]}{more}"


def _default_message(error: HTTPException) -> str:
    if error.code == 422:
        return "The request's fields are not valid; see errors."
    return error.description or error.name
