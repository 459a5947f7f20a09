"""The real app plus one route that answers what the app sees of its client, for
tests/integration/test_serving.py (`fieldapp serve --app 'tests.serving_probe:create_app()'`).
Whatever ProxyFix makes of the proxy's headers is exactly what sign-in throttling keys on.
Every answer also says, in X-Probe-Body-File, which file the app read the body from, if any
(nginx's body handover, fieldapp.serving.handover).
"""
from flask import jsonify, request

from fieldapp import create_app as create_fieldapp


def create_app():
    app = create_fieldapp()

    @app.after_request
    def body_file(response):
        response.headers["X-Probe-Body-File"] = getattr(
            request.environ["wsgi.input"], "name", "")
        return response

    @app.get("/probe/client")
    def client():
        return jsonify(remote_addr=request.remote_addr, scheme=request.scheme)

    return app
