"""gunicorn settings; each can be overridden from the environment."""
import os

bind = os.environ.get("FIELDAPP_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("FIELDAPP_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("FIELDAPP_THREADS", "4"))
# Large uploads over slow phone networks need time.
timeout = int(os.environ.get("FIELDAPP_TIMEOUT", "300"))
accesslog = "-"
