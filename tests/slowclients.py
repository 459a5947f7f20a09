"""Slow clients, as phones on bad networks (and people who mean harm) are: connections that
send their headers a byte at a time, and uploads that trickle at a few KB/s.

Shared by tests/integration/test_serving.py and bench/slow_clients.py. One thread drives
every connection; it stops at `hold_s` at the latest, whatever happens, and reconnects a
connection the server drops (counting it), so the load stays on for as long as it is held.
Loopback addresses only.
"""
from __future__ import annotations

import select
import socket
import threading
import time

TICK_S = 0.25


class SlowClients:
    """`with SlowClients(...) as load:` holds the connections open inside the block."""

    def __init__(self, host: str, port: int, *, headers: int = 60, uploads: int = 8,
                 upload_bytes: int = 3 * 1024 * 1024, upload_rate: int = 4096,
                 token: str = "", hold_s: float = 120.0):
        assert host.startswith("127."), "slow clients talk to loopback addresses only"
        self.address = (host, port)
        self.counts = {"header": headers, "upload": uploads}
        self.upload_bytes, self.upload_rate, self.token = upload_bytes, upload_rate, token
        self.hold_s = hold_s
        self.dropped = 0          # connections the server closed (then opened again)
        self.answered = 0         # of those, how many got an answer before closing
        self.sent = 0
        self._conns: list[tuple[str, socket.socket]] = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def __enter__(self) -> SlowClients:
        for kind, count in self.counts.items():
            for _ in range(count):
                self._conns.append((kind, self._open(kind)))
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._halt.set()
        self._thread.join(10)
        for _, conn in self._conns:
            conn.close()

    @property
    def open(self) -> int:
        return len(self._conns)

    def still_held(self) -> int:
        """Connections the server has neither answered nor closed, right now."""
        readable, _, _ = select.select([c for _, c in self._conns], [], [], 0)
        return len(self._conns) - len(readable)

    def _open(self, kind: str) -> socket.socket:
        conn = socket.create_connection(self.address, timeout=5)
        if kind == "header":
            # A request line and the start of a header that never ends.
            conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
        else:
            conn.sendall((
                "POST /api/v1/reports HTTP/1.1\r\nHost: slow\r\n"
                f"Authorization: Bearer {self.token}\r\n"
                "Content-Type: multipart/form-data; boundary=slowslowslow\r\n"
                f"Content-Length: {self.upload_bytes}\r\n\r\n"
                "--slowslowslow\r\n").encode())
        return conn

    def _run(self) -> None:
        deadline = time.monotonic() + self.hold_s
        per_tick = max(1, int(self.upload_rate * TICK_S))
        while not self._halt.wait(TICK_S) and time.monotonic() < deadline:
            readable, _, _ = select.select([c for _, c in self._conns], [], [], 0)
            for index, (kind, conn) in enumerate(self._conns):
                try:
                    if conn in readable:
                        raise ConnectionResetError
                    conn.sendall(b"a" if kind == "header" else b"x" * per_tick)
                    self.sent += 1 if kind == "header" else per_tick
                except OSError:
                    self.dropped += 1
                    self.answered += self._had_answer(conn)
                    conn.close()
                    try:
                        self._conns[index] = (kind, self._open(kind))
                    except OSError:
                        self._conns[index] = (kind, _closed_socket())

    @staticmethod
    def _had_answer(conn: socket.socket) -> int:
        try:
            conn.setblocking(False)
            return 1 if conn.recv(1) else 0
        except OSError:
            return 0


def _closed_socket() -> socket.socket:
    # Stands in for a connection that could not be opened again; always "readable" (EOF).
    left, right = socket.socketpair()
    right.close()
    return left
