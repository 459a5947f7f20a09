"""The analyser process: analyses photos as they arrive, woken by the submissions' NOTIFY.

Run by `fieldapp evidence analyse --follow`; gunicorn starts and supervises them (see
AnalyserSupervisor and gunicorn.conf.py) on CPU time the web workers leave idle, so under
a burst of submissions the phones are answered first and the analysis catches up after.
Under load that never lets up, analysis waits; freezing a dossier settles its own photos.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time

import psycopg2
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

from fieldapp.extensions import db
from fieldapp.reports import analysis

log = logging.getLogger("fieldapp.analyser")

# A notification missed (say, while reconnecting) delays a photo by at most this long.
IDLE_POLL_S = 30.0
RETRY_AFTER_ERROR_S = 5.0


def follow(stop: threading.Event | None = None, idle_poll_s: float = IDLE_POLL_S) -> None:
    """Analyse every waiting photo, then sleep until the next submission; until stop is set."""
    stop = stop or threading.Event()
    failed: set = set()
    listener = None
    while not stop.is_set():
        try:
            listener = listener or _listen()
            _drain_skipping(failed, stop)
            _wait_for_notification(listener, idle_poll_s)
        except analysis.AnalysisFailed as exc:
            log.exception("photo %s left waiting; it is retried when this analyser restarts",
                          exc.photo_id)
            failed.add(exc.photo_id)
        except Exception:
            log.exception("analysis interrupted; retrying in %s s", RETRY_AFTER_ERROR_S)
            listener = _close(listener)
            stop.wait(RETRY_AFTER_ERROR_S)
    _close(listener)


def _drain_skipping(failed: set, stop: threading.Event) -> None:
    while not stop.is_set():
        if analysis.analyse_next(frozenset(failed)) is None:
            return


def _listen():
    url = db.engine.url.set(drivername="postgresql")
    connection = psycopg2.connect(url.render_as_string(hide_password=False))
    connection.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {analysis.CHANNEL}")
    return connection


def _wait_for_notification(connection, timeout_s: float) -> None:
    if not connection.notifies:
        select.select([connection], [], [], timeout_s)
    connection.poll()
    connection.notifies.clear()


def _close(connection) -> None:
    if connection is not None:
        connection.close()
    return None


class AnalyserSupervisor:
    """Keeps `count` analyser processes running, restarting any that exit.

    Runs as a process of its own (`python -m fieldapp.reports.analyser`), started by
    gunicorn's master: the master reaps every child it has, so it cannot also watch ours.
    It stops, stopping its analysers, on SIGTERM or when the process that started it dies.
    """

    MAX_BACKOFF_S = 30.0
    TICK_S = 0.5

    def __init__(self, count: int, nice: int, logger=log):
        self.count, self.nice, self.log = count, nice, logger
        self._stopping = False
        self._children: dict[int, subprocess.Popen] = {}
        self._backoff = {slot: 1.0 for slot in range(count)}
        self._due = {slot: 0.0 for slot in range(count)}
        self._started = {}

    def command(self) -> list[str]:
        # nice(1) lowers the priority before Python starts, so no moment runs at full
        # priority; once running, the analyser also takes only CPU time nothing else wants
        # (SCHED_IDLE), so a burst of submissions is answered at full speed.
        return ["nice", "-n", str(self.nice), sys.executable, "-m", "fieldapp.cli", "evidence",
                "analyse", "--follow", "--idle-priority"]

    def run(self) -> None:
        parent = os.getppid()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self._stopping and os.getppid() == parent:
            for slot in range(self.count):
                self._tend(slot)
            time.sleep(self.TICK_S)
        self._stop_children()

    def _stop(self, *_) -> None:
        self._stopping = True

    def _tend(self, slot: int) -> None:
        child = self._children.get(slot)
        if child is not None:
            code = child.poll()
            if code is None:
                return
            del self._children[slot]
            # Quick deaths (database down, bad settings) back off; a long run resets it.
            ran = time.monotonic() - self._started[slot]
            backoff = 1.0 if ran > 60 else min(self._backoff[slot] * 2, self.MAX_BACKOFF_S)
            self._backoff[slot] = backoff
            self._due[slot] = time.monotonic() + backoff
            self.log.warning("analyser %d exited with %s; restarting in %.0f s",
                             slot, code, backoff)
            return
        if time.monotonic() >= self._due[slot]:
            self._children[slot] = subprocess.Popen(self.command())
            self._started[slot] = time.monotonic()
            self.log.info("analyser %d started (pid %d)", slot, self._children[slot].pid)

    def _stop_children(self, timeout_s: float = 10.0) -> None:
        for child in self._children.values():
            child.terminate()
        for child in self._children.values():
            try:
                child.wait(timeout_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def main(argv: list[str] | None = None) -> None:
    """python -m fieldapp.reports.analyser COUNT NICE: supervise COUNT analysers."""
    count, nice = (int(value) for value in (argv or sys.argv[1:]))
    logging.basicConfig(level=logging.INFO, format="[analysers] %(levelname)s %(message)s")
    AnalyserSupervisor(count, nice).run()


if __name__ == "__main__":
    main()
