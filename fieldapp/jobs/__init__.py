"""Background work, one mechanism: procrastinate's job queue in PostgreSQL.

Dossier freezes, the scheduled custody audit, RFC 3161 anchors of the chain's head and the
sweep of stale upload spools are all jobs: rows of `procrastinate_jobs` (with their history
in `procrastinate_events`), deferred inside the transaction that asks for them and run by
`fieldapp jobs work`. Pixel analysis keeps its own queue (reports/analyser.py): it is the
photos table itself, claimed with SKIP LOCKED at idle CPU priority, and measured at 50+
reports a second.

queue.py     the procrastinate App and defer() (inside the caller's transaction)
tasks.py     the tasks, each run inside a Flask app context, each idempotent
schedule.py  pure: when an interval job runs next (and its backoff after a failure)
worker.py    running the worker: forever (`fieldapp jobs work`) or until the queue is empty
"""
