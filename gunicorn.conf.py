"""gunicorn settings; each can be overridden from the environment."""
import os

bind = os.environ.get("FIELDAPP_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("FIELDAPP_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("FIELDAPP_THREADS", "4"))
# Large uploads over slow phone networks need time.
timeout = int(os.environ.get("FIELDAPP_TIMEOUT", "300"))
accesslog = "-"

# Photos are decoded and compared after receipt by analyser processes that gunicorn's
# master starts and restarts, at a lower CPU priority than the web workers.
analysers = int(os.environ.get("FIELDAPP_ANALYSERS", "1"))
analyser_nice = int(os.environ.get("FIELDAPP_ANALYSER_NICE", "10"))


def when_ready(server):
    if analysers > 0:
        import subprocess
        import sys

        server.fieldapp_analysers = subprocess.Popen(
            [sys.executable, "-m", "fieldapp.reports.analyser", str(analysers),
             str(analyser_nice)])


def on_exit(server):
    supervisor = getattr(server, "fieldapp_analysers", None)
    if supervisor is not None:
        supervisor.terminate()
        try:
            supervisor.wait(15)
        except Exception:  # already reaped by the master, or stuck: nothing more to do
            pass
