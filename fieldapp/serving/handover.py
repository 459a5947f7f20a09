"""Request bodies handed over by file name: the WSGI side of nginx's body handover.

For photo reports, `fieldapp serve`'s nginx writes the whole body to a temp file (it does
so for any large body anyway, to spare gunicorn slow clients) and, instead of sending it
again through the socket, names the file in a header. Read through gunicorn, a 3 MB body
costs thousands of small reads in Python; read from the file, a few large ones from the
page cache. The rest of the app sees an ordinary request: the file becomes `wsgi.input`.

Only a file inside nginx's own body directory is opened: nginx always overwrites the header
(see proxy.py), and this check keeps a misconfigured proxy from handing over any other path.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from werkzeug.wsgi import ClosingIterator

# WSGI's name for the header proxy.HANDOVER_HEADER.
ENVIRON_KEY = "HTTP_X_FIELDAPP_BODY_FILE"


class BodyHandover:
    """WSGI middleware: a request naming a body file in `body_dir` reads its body from it."""

    def __init__(self, app, body_dir: Path):
        self.app = app
        self.body_dir = os.path.realpath(body_dir)

    def __call__(self, environ, start_response):
        named = environ.pop(ENVIRON_KEY, None)
        if not named:
            return self.app(environ, start_response)
        path = os.path.realpath(named)
        if not path.startswith(self.body_dir + os.sep):
            return _refuse(start_response, "the proxy handed over a body outside its directory")
        try:
            body = open(path, "rb")  # noqa: SIM115 (closed when the response is)
        except OSError:
            return _refuse(start_response, "the proxy handed over a body that cannot be read")
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(os.fstat(body.fileno()).st_size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        try:
            return ClosingIterator(self.app(environ, start_response), body.close)
        except BaseException:
            body.close()
            raise


def _refuse(start_response, message: str):
    # Outside Flask, so written here in the API's one error shape.
    body = json.dumps({"code": 502, "status": "Bad Gateway", "message": message}).encode()
    start_response("502 BAD GATEWAY", [("Content-Type", "application/json"),
                                       ("Content-Length", str(len(body)))])
    return [body]
