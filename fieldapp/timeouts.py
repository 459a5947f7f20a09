"""Statement timeouts: no request's query runs longer than FIELDAPP_STATEMENT_TIMEOUT_MS.

The timeout is set with SET LOCAL as each transaction of a request begins, so it ends with
that transaction: a pooled connection goes back with the server's default, and the CLI,
the analysers and background work (which may rightly run long) are not cut short by a
limit meant for answering clients. One more round trip per transaction is the price.
A query cancelled by the timeout answers 503 in the one error shape, not 500.
"""
from __future__ import annotations

from flask import Flask, current_app, has_request_context
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from fieldapp.errors import ServiceUnavailable

# SQLSTATE query_canceled: a statement timeout, or a cancel request.
QUERY_CANCELED = "57014"


def register(app: Flask) -> None:
    app.register_error_handler(OperationalError, _cancelled)
    # Sessions of every app in the process; each reads its own app's setting.
    if not event.contains(Session, "after_begin", _bound_request_transaction):
        event.listen(Session, "after_begin", _bound_request_transaction)


def _bound_request_transaction(session, transaction, connection) -> None:
    if not has_request_context():
        return
    limit = int(current_app.config.get("FIELDAPP_STATEMENT_TIMEOUT_MS") or 0)
    if limit > 0:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {limit}")


def _cancelled(error: OperationalError):
    if getattr(error.orig, "pgcode", None) != QUERY_CANCELED:
        raise error
    return current_app.handle_http_exception(ServiceUnavailable(
        "the database did not answer in time; try again, or ask for less (a smaller area, "
        "a shorter time window, a smaller page)", sub_code="STATEMENT_TIMEOUT"))
