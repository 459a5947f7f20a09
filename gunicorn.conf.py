"""gunicorn settings; each can be overridden from the environment."""
import os

bind = os.environ.get("FIELDAPP_BIND", "127.0.0.1:5000")
# Processes, not threads, carry the load: hashing, parsing and the ORM hold the GIL, and
# threads of one worker queue for it. On 2 cores, 3 workers x 2 threads answered uploads
# faster than 4 x 4, 8 x 1 or 2 x 2 (bench/ingest.py); threads still cover slow clients.
workers = int(os.environ.get("FIELDAPP_WORKERS", str((os.cpu_count() or 1) + 1)))
worker_class = "gthread"
threads = int(os.environ.get("FIELDAPP_THREADS", "2"))
# Large uploads over slow phone networks need time.
timeout = int(os.environ.get("FIELDAPP_TIMEOUT", "300"))
accesslog = "-"

# Photos are decoded and compared after receipt by analyser processes that gunicorn's
# master starts (through a supervisor that restarts them). They decode only on CPU time
# the web workers leave idle: in a burst the phones are answered first.
analysers = int(os.environ.get("FIELDAPP_ANALYSERS", str(os.cpu_count() or 1)))


def when_ready(server):
    if analysers > 0:
        import subprocess
        import sys

        server.fieldapp_analysers = subprocess.Popen(
            [sys.executable, "-m", "fieldapp.reports.analyser", str(analysers)])


def on_exit(server):
    supervisor = getattr(server, "fieldapp_analysers", None)
    if supervisor is not None:
        supervisor.terminate()
        try:
            supervisor.wait(15)
        except Exception:  # already reaped by the master, or stuck: nothing more to do
            pass
