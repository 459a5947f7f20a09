"""The WSGI side of nginx's body handover (fieldapp.serving.handover), with a stand-in app
that answers what it read of its body."""
from __future__ import annotations

import json

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from fieldapp.serving.handover import BodyHandover

opened = []


@Request.application
def echo(request: Request) -> Response:
    opened.append(request.environ["wsgi.input"])
    return Response(request.get_data(), headers={"X-Length": str(request.content_length)})


def _client(body_dir) -> Client:
    return Client(BodyHandover(echo, body_dir))


def test_a_body_file_in_the_proxys_directory_is_the_body(tmp_path):
    body_dir = tmp_path / "body"
    (body_dir / "3" / "07").mkdir(parents=True)
    spooled = body_dir / "3" / "07" / "0000000073"
    spooled.write_bytes(b"the whole body" * 1000)
    answer = _client(body_dir).post("/api/v1/reports", data=b"",
                                    headers={"X-Fieldapp-Body-File": str(spooled)})
    assert answer.status_code == 200
    assert answer.get_data() == b"the whole body" * 1000
    assert answer.headers["X-Length"] == str(14 * 1000)
    assert opened[-1].name == str(spooled) and not opened[-1].closed
    answer.close()  # as the server does once the response is sent
    assert opened[-1].closed


def test_without_the_header_the_request_is_untouched(tmp_path):
    answer = _client(tmp_path).post("/x", data=b"sent on the wire")
    assert answer.get_data() == b"sent on the wire"


def test_a_file_outside_the_proxys_directory_is_never_opened(tmp_path):
    body_dir = tmp_path / "body"
    body_dir.mkdir()
    secret = tmp_path / "secret"
    secret.write_bytes(b"not a body")
    calls = len(opened)
    for named in (secret, body_dir / ".." / "secret", tmp_path / "body-other" / "f"):
        answer = _client(body_dir).post("/x", headers={"X-Fieldapp-Body-File": str(named)})
        assert answer.status_code == 502
        error = json.loads(answer.get_data())
        assert error["code"] == 502 and "outside" in error["message"]
    assert len(opened) == calls  # the app was never called


def test_a_missing_body_file_is_a_502_in_the_error_shape(tmp_path):
    answer = _client(tmp_path).post("/x", headers={
        "X-Fieldapp-Body-File": str(tmp_path / "gone")})
    assert answer.status_code == 502
    assert json.loads(answer.get_data())["message"] == (
        "the proxy handed over a body that cannot be read")
