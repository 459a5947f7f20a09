"""gunicorn settings under `fieldapp serve`, which passes bind, workers, threads and timeout
from fieldapp.config on the command line (`--config python:fieldapp.serving.gunicorn_conf`).
"""

# Processes, not threads, carry the load: hashing, parsing and the ORM hold the GIL, and
# threads of one worker queue for it. On 2 cores, 3 workers x 2 threads answered uploads
# faster than 4 x 4, 8 x 1 or 2 x 2 (bench/ingest.py). Slow clients never reach a thread:
# nginx in front hands over whole requests and takes whole responses.
worker_class = "gthread"
# nginx logs every request with the client's real address; a second log would say less.
accesslog = None
errorlog = "-"
# On a stop, requests in flight get this long to finish (nginx has the slow part already).
graceful_timeout = 30
# gunicorn 27's control socket defaults to one path per user ($HOME/.gunicorn): two stacks
# on one machine would fight over it, and supervisord already controls gunicorn.
control_socket_disable = True
