"""Resumable-upload benchmark: a 20 MB photo over tus in 1 MB chunks against the same bytes
as one multipart request, through `fieldapp serve` (nginx, gunicorn), in the same run.

Each round sends the photo both ways, in alternating order, as a stored report: multipart
(one POST /reports), and tus (POST /uploads, one PATCH a chunk, then POST /reports naming
the upload). The multipart figure is the floor the tus figure is held to (target: at least
80 % of its throughput), measured on the same server and bytes, minutes apart at most, so a
busy machine slows both alike. It prints figures; it is not a test.

On the loopback the bytes cost almost nothing to carry, so each chunk's fixed cost (a
request through nginx, gunicorn and Flask, a token check, an fdatasync) is most of what is
measured; --link-mbps sends every body, both ways, no faster than a phone's uplink.

    .venv/bin/python bench/tus_upload.py [--photo-mb 20] [--chunk-mb 1] [--rounds 5] [--checksum]
                                         [--link-mbps 20]

Everything it needs is made here and removed afterwards, even on failure: a database cloned
from the PostGIS template, a temp data dir, a volunteer and token, the server process.
MB means 2**20 bytes throughout.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import requests
from urllib3 import encode_multipart_formdata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402 (the benchmark folder is not a package)
    MB,
    TEMPLATE_DB,
    BenchError,
    Server,
    create_database,
    drop_database,
    fieldapp_cli,
    free_port,
    make_user,
    run,
    server_env,
    verdict,
)

from fieldapp.photogen import make_exif, padded_jpeg, scene  # noqa: E402

BENCH_DB = "fieldapp_bench_tus"
TARGET_RATIO = 0.80
TIMEOUT_S = 300
TUS = {"Tus-Resumable": "1.0.0"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo-mb", type=float, default=20)
    parser.add_argument("--chunk-mb", type=float, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--checksum", action="store_true",
                        help="send Upload-Checksum: sha256 with every chunk")
    parser.add_argument("--link-mbps", type=float, default=None,
                        help="send every body no faster than this many megabits a second, "
                             "as a phone's uplink would (both ways alike); default: as fast "
                             "as the loopback goes")
    return parser.parse_args(argv)


class PacedBody:
    """A request body handed out no faster than a link's rate, so the client sends it as a
    phone would; its length is known, so it goes with a Content-Length, not chunked."""

    PIECE = 64 * 1024

    def __init__(self, data: bytes, bytes_per_s: float):
        self.data, self.rate, self.sent, self.started = data, bytes_per_s, 0, None

    def __len__(self) -> int:
        return len(self.data)

    def read(self, size: int = -1) -> bytes:
        if self.started is None:
            self.started = time.perf_counter()
        size = self.PIECE if size is None or size < 0 else min(size, self.PIECE)
        piece = self.data[self.sent:self.sent + size]
        self.sent += len(piece)
        time.sleep(max(0.0, self.started + self.sent / self.rate - time.perf_counter()))
        return piece


def paced(data: bytes, link_bytes_per_s: float | None):
    return data if link_bytes_per_s is None else PacedBody(data, link_bytes_per_s)


def step(message: str) -> None:
    print(f"[tus] {message}", flush=True)


def photo_of(size: int) -> bytes:
    import io

    out = io.BytesIO()
    scene(7, (1600, 1200)).save(out, "JPEG", quality=88,
                                exif=make_exif(lat=23.18, lon=113.39))
    return padded_jpeg(out.getvalue(), size)


def claim(**extra) -> str:
    return json.dumps({
        "client_id": str(uuid.uuid4()), "category": "water", "description": "bench",
        "observed_at": "2026-05-04T10:31:00+08:00",
        "location": {"lon": 113.39, "lat": 23.18, "crs": "wgs84"}, **extra})


def _stored(response: requests.Response, sha256: str) -> None:
    if response.status_code != 201:
        raise BenchError(f"report refused: {response.status_code} {response.text[:300]}")
    if response.json()["photos"][-1]["sha256"] != sha256:
        raise BenchError("the stored photo's SHA-256 is not the file's")


def send_multipart(session: requests.Session, base: str, photo: bytes, sha256: str,
                   link: float | None = None) -> float:
    body, content_type = encode_multipart_formdata(
        [("report", claim()), ("photos", ("photo.jpg", photo, "image/jpeg"))])
    started = time.perf_counter()
    response = session.post(f"{base}/reports", data=paced(body, link),
                            headers={"Content-Type": content_type}, timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - started
    _stored(response, sha256)
    return elapsed


def send_tus(session: requests.Session, base: str, photo: bytes, sha256: str, chunk: int,
             checksum: bool, link: float | None = None) -> dict[str, float]:
    """One photo over tus; the seconds of its three phases (creation, chunks, report) and in
    all."""
    pieces = [photo[start:start + chunk] for start in range(0, len(photo), chunk)]
    sums = [base64.b64encode(hashlib.sha256(piece).digest()).decode() for piece in pieces]
    started = time.perf_counter()
    created = session.post(f"{base}/uploads", timeout=TIMEOUT_S, headers={
        **TUS, "Upload-Length": str(len(photo)),
        "Upload-Metadata": "filename " + base64.b64encode(b"photo.jpg").decode()})
    if created.status_code != 201:
        raise BenchError(f"creation refused: {created.status_code} {created.text[:300]}")
    creation_done = time.perf_counter()
    location, offset = created.headers["Location"], 0
    for piece, digest in zip(pieces, sums, strict=True):
        headers = {**TUS, "Content-Type": "application/offset+octet-stream",
                   "Upload-Offset": str(offset)}
        if checksum:
            headers["Upload-Checksum"] = f"sha256 {digest}"
        response = session.patch(location, data=paced(piece, link), headers=headers,
                                 timeout=TIMEOUT_S)
        if response.status_code != 204:
            raise BenchError(f"PATCH refused: {response.status_code} {response.text[:300]}")
        offset = int(response.headers["Upload-Offset"])
    chunks_done = time.perf_counter()
    upload_id = location.rsplit("/", 1)[1]
    body, content_type = encode_multipart_formdata([("report", claim(uploads=[upload_id]))])
    response = session.post(f"{base}/reports", data=body,
                            headers={"Content-Type": content_type}, timeout=TIMEOUT_S)
    ended = time.perf_counter()
    _stored(response, sha256)
    return {"creation": creation_done - started, "chunks": chunks_done - creation_done,
            "report": ended - chunks_done, "total": ended - started}


def request_floor(session: requests.Session, base: str, photo: bytes, chunk: int,
                  tries: int = 40) -> tuple[float, float]:
    """Medians, on this machine now, of (1) an empty PATCH (the token checked, the spool locked
    and synced, no byte carried), and (2) a chunk-sized PATCH the app refuses before any work
    (no token: nginx, gunicorn, Flask and the body's handover, nothing of tus): what a chunk
    costs on this stack before the server does anything with it."""
    created = session.post(f"{base}/uploads", timeout=TIMEOUT_S,
                           headers={**TUS, "Upload-Length": str(len(photo))})
    headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    empty, bare = [], []
    anonymous = requests.Session()
    for _ in range(tries):
        started = time.perf_counter()
        response = session.patch(created.headers["Location"], data=b"", headers=headers,
                                 timeout=TIMEOUT_S)
        empty.append(time.perf_counter() - started)
        if response.status_code != 204:
            raise BenchError(f"empty PATCH refused: {response.status_code}")
        started = time.perf_counter()
        response = anonymous.patch(created.headers["Location"], data=photo[:chunk],
                                   headers=headers, timeout=TIMEOUT_S)
        bare.append(time.perf_counter() - started)
        if response.status_code != 401:
            raise BenchError(f"an unsigned PATCH was answered {response.status_code}, not 401")
    session.delete(created.headers["Location"], headers=TUS, timeout=TIMEOUT_S)
    return statistics.median(empty), statistics.median(bare)


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    size, chunk = int(args.photo_mb * MB), int(args.chunk_mb * MB)
    link = args.link_mbps * 1e6 / 8 if args.link_mbps else None
    with ExitStack() as cleanup:
        workdir = Path(tempfile.mkdtemp(prefix="fieldapp-bench-tus-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        (workdir / "data").mkdir()
        step(f"generating a {args.photo_mb:g} MB photo")
        photo = photo_of(size)
        sha256 = hashlib.sha256(photo).hexdigest()

        step(f"creating database {BENCH_DB} from {TEMPLATE_DB}")
        create_database(BENCH_DB)
        cleanup.callback(drop_database, BENCH_DB)
        # No analysers and no quotas: the figures are the transfer and intake of the bytes.
        env = server_env(BENCH_DB, workdir / "data", free_port(), FIELDAPP_ANALYSERS="0",
                         FIELDAPP_QUOTA_BYTES_PER_DAY="0", FIELDAPP_QUOTA_REPORTS_PER_DAY="0")
        fieldapp_cli(env, "db", "upgrade")
        token = make_user(env, "bench-tus@example.org", "volunteer")
        server = Server(env, workdir / "serve.log")
        cleanup.callback(server.stop)
        server.wait_until_healthy()
        step(f"fieldapp serve up at {server.root_url}")

        session = requests.Session()  # one connection kept alive, as a phone's client does
        session.headers["Authorization"] = f"Bearer {token}"
        step("warm-up: one of each")
        send_multipart(session, server.base_url, photo, sha256)
        send_tus(session, server.base_url, photo, sha256, chunk, args.checksum)

        multipart, tus = [], []
        for round_no in range(args.rounds):
            # Alternating who goes first, so neither always meets a warmer cache.
            order = ("multipart", "tus") if round_no % 2 == 0 else ("tus", "multipart")
            for kind in order:
                if kind == "multipart":
                    multipart.append(send_multipart(session, server.base_url, photo, sha256,
                                                    link))
                else:
                    tus.append(send_tus(session, server.base_url, photo, sha256, chunk,
                                        args.checksum, link))
            step(f"round {round_no + 1}: multipart {multipart[-1]:.3f} s, "
                 f"tus {tus[-1]['total']:.3f} s")
        empty_patch, bare_patch = request_floor(session, server.base_url, photo, chunk)
        server.stop()

    mb = size / MB
    phase = {name: statistics.median(run[name] for run in tus) for name in tus[0]}
    floor, measured = statistics.median(multipart), phase["total"]
    ratio = floor / measured
    chunks = -(-size // chunk)
    # The best tus could do on this stack: creation and report as measured, and every chunk
    # costing no more than a request the app refuses before any work.
    ceiling = floor / (phase["creation"] + phase["report"] + chunks * bare_patch)
    print()
    over = f", over a {args.link_mbps:g} Mbit/s link" if link else ""
    print(f"{args.photo_mb:g} MB photo, stored as a report, {args.rounds} rounds, "
          f"medians (fieldapp serve, one kept-alive connection{over})")
    print(f"  multipart, one request (floor): {floor:.3f} s  {mb / floor:7.1f} MB/s")
    print(f"  tus, {chunks} x {args.chunk_mb:g} MB PATCH"
          f"{' + sha256 checksums' if args.checksum else ''} + report: "
          f"{measured:.3f} s  {mb / measured:7.1f} MB/s")
    print(f"    creation {phase['creation']:.3f} s, chunks {phase['chunks']:.3f} s "
          f"({phase['chunks'] / chunks * 1000:.1f} ms each), report {phase['report']:.3f} s")
    print(f"  tus / multipart throughput: {ratio:.0%} (target >= {TARGET_RATIO:.0%}) "
          f"{verdict(ratio >= TARGET_RATIO)}")
    print(f"  an empty PATCH, median: {empty_patch * 1000:.1f} ms; a {args.chunk_mb:g} MB PATCH "
          f"refused before any work: {bare_patch * 1000:.1f} ms")
    print(f"  ceiling on this stack (creation and report as measured, each chunk at the "
          f"refused PATCH's cost): {ceiling:.0%}")
    return 0


if __name__ == "__main__":
    run(main)
