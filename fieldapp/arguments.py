"""How every view reads its arguments: one webargs parser and one Blueprint for the API.

Two things the stock parser does not do:

- A report travels as ``multipart/form-data``: a ``report`` part (JSON text) beside
  ``photos`` files. webargs reads form fields and files from two locations, and
  flask-smorest documents one request body per operation, so with two ``arguments``
  decorators the second leaked into the OpenAPI document as a Swagger 2 ``formData``
  parameter, which OpenAPI 3 client generators reject. The ``multipart`` location reads
  both and is documented as one ``multipart/form-data`` requestBody naming every part.
- PostgreSQL text cannot hold a NUL character, and psycopg2 refuses to send one. A NUL in
  any argument is refused here with a 422 naming the field, instead of failing in the
  database layer as a 500.
"""
from __future__ import annotations

import flask_smorest
from marshmallow import ValidationError
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

MULTIPART = "multipart"
NUL = "\x00"


class FieldappParser(FlaskParser):
    __location_map__ = {**FlaskParser.__location_map__, MULTIPART: "load_multipart"}

    def load_multipart(self, req, schema):
        """Text parts and files of a multipart body, as one multi-dict."""
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)

    def _validate_arguments(self, data, validators) -> None:
        super()._validate_arguments(data, validators)
        where = nul_path(data)
        if where is not None:
            raise ValidationError({where or "_schema": ["must not contain NUL characters"]})


def nul_path(value, path: str = "") -> str | None:
    """The dotted path of the first text holding a NUL in a loaded value, or None."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), inner) for key, inner in value.items())
    elif isinstance(value, list | tuple):
        items = ((f"{path}[{index}]", inner) for index, inner in enumerate(value))
    else:
        return None
    for inner_path, inner in items:
        found = nul_path(inner, inner_path)
        if found is not None:
            return found
    return None


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint reading arguments with FieldappParser."""

    ARGUMENTS_PARSER = FieldappParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        MULTIPART: "multipart/form-data",
    }
