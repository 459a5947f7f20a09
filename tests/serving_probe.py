"""The real app plus one route that answers what the app sees of its client, for
tests/integration/test_serving.py (`fieldapp serve --app 'tests.serving_probe:create_app()'`).
Whatever ProxyFix makes of the proxy's headers is exactly what sign-in throttling keys on.
"""
from flask import jsonify, request

from fieldapp import create_app as create_fieldapp


def create_app():
    app = create_fieldapp()

    @app.get("/probe/client")
    def client():
        return jsonify(remote_addr=request.remote_addr, scheme=request.scheme)

    return app
