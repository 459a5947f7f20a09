"""The analyser process: analyses photos as they arrive, woken by the submissions' NOTIFY.

Run by `fieldapp evidence analyse --follow`; `fieldapp serve` keeps FIELDAPP_ANALYSERS of
them running (fieldapp/serving/). With --idle-priority the decoding, nearly all of
an analysis's CPU, runs in a thread that only gets CPU time nothing else wants (Linux
SCHED_IDLE), so a burst of submissions is answered at full speed and the analysis
catches up after it. The database work stays at normal priority: it takes the custody
chain's lock, and a lock held by a thread that cannot get the CPU would stall every
submission waiting for it. Under load that never lets up, analysis waits; freezing a
dossier settles its own photos.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

from fieldapp.evidence import imaging
from fieldapp.extensions import db
from fieldapp.reports import analysis

log = logging.getLogger("fieldapp.analyser")

# A notification missed (say, while reconnecting) delays a photo by at most this long.
IDLE_POLL_S = 30.0
RETRY_AFTER_ERROR_S = 5.0
# Submissions come in bursts. The analyser waits for a pause this long between them
# before it analyses, so its database work does not slow the phones' answers...
QUIET_S = 0.5
# ...but it never waits longer than this in one round, so analysis goes on under any load.
MAX_YIELD_S = 60.0


def follow(stop: threading.Event | None = None, idle_poll_s: float = IDLE_POLL_S,
           idle_priority: bool = False) -> None:
    """Analyse every waiting photo, then sleep until the next submission; until stop is set."""
    stop = stop or threading.Event()
    failed: set = set()
    listener = None
    decoder = IdlePriorityDecoder() if idle_priority else None
    read_pixels = decoder.read_pixels if decoder else imaging.analyse_pixels
    while not stop.is_set():
        try:
            listener = listener or _listen()
            _drain_skipping(failed, stop, read_pixels, listener)
            _notified(listener, idle_poll_s)
        except analysis.AnalysisFailed as exc:
            log.exception("photo %s left waiting; it is retried when this analyser restarts",
                          exc.photo_id)
            failed.add(exc.photo_id)
        except Exception:
            log.exception("analysis interrupted; retrying in %s s", RETRY_AFTER_ERROR_S)
            listener = _close(listener)
            stop.wait(RETRY_AFTER_ERROR_S)
    _close(listener)
    if decoder:
        decoder.close()


def _drain_skipping(failed: set, stop: threading.Event, read_pixels, listener) -> None:
    yield_until = time.monotonic() + MAX_YIELD_S
    last_submission = time.monotonic()  # the NOTIFY that woke this round
    while not stop.is_set():
        last_submission = _wait_for_a_pause(listener, stop, last_submission, yield_until)
        if analysis.analyse_next(frozenset(failed), read_pixels) is None:
            return


def _wait_for_a_pause(listener, stop: threading.Event, last_submission: float,
                      until: float) -> float:
    """Wait until QUIET_S has passed since the last submission (or until `until`); return
    when the last submission was seen."""
    while not stop.is_set():
        if _notified(listener, 0):
            last_submission = time.monotonic()
        now = time.monotonic()
        wait = min(last_submission + QUIET_S, until) - now
        if wait <= 0:
            break
        if _notified(listener, wait):
            last_submission = time.monotonic()
    return last_submission


def _notified(connection, timeout_s: float) -> bool:
    """Did a submission's NOTIFY arrive within timeout_s? (Consumes what arrived.)"""
    connection.poll()
    if not connection.notifies and timeout_s > 0:
        select.select([connection], [], [], timeout_s)
        connection.poll()
    arrived = bool(connection.notifies)
    connection.notifies.clear()
    return arrived


class IdlePriorityDecoder:
    """Decodes on a thread of its own that runs at SCHED_IDLE (a per-thread policy on
    Linux). The caller waits without the GIL, so that thread never blocks it."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="decode",
                                        initializer=_take_idle_priority)

    def read_pixels(self, path, max_pixels: int) -> imaging.PixelAnalysis:
        return self._pool.submit(imaging.analyse_pixels, path, max_pixels).result()

    def close(self) -> None:
        self._pool.shutdown()


def _take_idle_priority() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):  # not Linux, or refused: decode at the lowest nice
        log.warning("SCHED_IDLE refused; decoding at nice 19 instead")
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _listen():
    url = db.engine.url.set(drivername="postgresql")
    connection = psycopg2.connect(url.render_as_string(hide_password=False))
    connection.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {analysis.CHANNEL}")
    return connection


def _close(connection) -> None:
    if connection is not None:
        connection.close()
    return None
