"""A real RFC 3161 time-stamping authority for tests: OpenSSL's `openssl ts -reply`.

LocalTsa makes a root CA and a TSA certificate (extendedKeyUsage critical timeStamping) with
the openssl command at test time, and answers RFC 3161 requests over HTTP on 127.0.0.1 by
piping each request through `openssl ts -reply`. Nothing is mocked: the tokens are the ones
a court would check with `openssl ts -verify`.
"""
from __future__ import annotations

import contextlib
import http.server
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

TS_CONFIG = """\
[ tsa ]
default_tsa = local_tsa

[ local_tsa ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

TSA_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _openssl(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.decode()[-500:]}")
    return result.stdout


def make_authority(directory: Path, name: str = "fieldapp test") -> None:
    """ca.pem/ca.key (the root), tsa.pem/tsa.key (the TSA), its serial file and ts.cnf."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
             "-subj", f"/O={name}/CN={name} root CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _openssl("req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", f"/O={name}/CN={name} TSA", cwd=directory)
    (directory / "tsa.ext").write_text(TSA_EXTENSIONS)
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-set_serial", "2", "-days", "3650", "-extfile", "tsa.ext", "-out", "tsa.pem",
             cwd=directory)
    (directory / "serial").write_text("01\n")
    (directory / "ts.cnf").write_text(TS_CONFIG.format(dir=directory))


class LocalTsa:
    """An RFC 3161 server on 127.0.0.1 backed by `openssl ts -reply`; use as a context."""

    def __init__(self, directory: Path | None = None, name: str = "fieldapp test"):
        self._temp = None if directory else tempfile.TemporaryDirectory(prefix="tsa-")
        self.dir = Path(directory or self._temp.name)
        make_authority(self.dir, name)
        self.ca_file = self.dir / "ca.pem"
        self.requests = 0
        # openssl increments the serial file: one reply at a time.
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/tsa"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def reply(self, query: bytes) -> bytes:
        """The DER TimeStampResp OpenSSL gives for a DER TimeStampReq."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.dir) as work:
            Path(work, "query.tsq").write_bytes(query)
            _openssl("ts", "-reply", "-config", str(self.dir / "ts.cnf"),
                     "-queryfile", "query.tsq", "-out", "reply.tsr", cwd=Path(work))
            self.requests += 1
            return Path(work, "reply.tsr").read_bytes()

    def _handler(self):
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                query = self.rfile.read(length)
                try:
                    body, status = tsa.reply(query), 200
                except RuntimeError as err:
                    body, status = str(err).encode(), 400
                self.send_response(status)
                self.send_header("Content-Type", "application/timestamp-reply"
                                 if status == 200 else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def start(self) -> LocalTsa:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._temp:
            self._temp.cleanup()

    def __enter__(self) -> LocalTsa:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a TSA that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


@contextlib.contextmanager
def configured(app, urls: list[str], ca_file: Path | str | None):
    """The app set to use these TSAs for the duration of the block."""
    keys = ("FIELDAPP_TSA_URLS", "FIELDAPP_TSA_CA_FILE")
    saved = {key: app.config.get(key) for key in keys}
    app.config.update(FIELDAPP_TSA_URLS=list(urls),
                      FIELDAPP_TSA_CA_FILE=str(ca_file) if ca_file else None)
    try:
        yield
    finally:
        app.config.update(saved)
