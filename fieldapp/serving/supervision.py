"""The supervisord configuration `fieldapp serve` writes (pure: programs in, text out).

supervisord, not a loop of our own, keeps the stack running: it is the long-proven process
supervisor, restarts a program that dies (backing off while a program keeps failing to
start), stops programs in order with each one's own signal and grace period, and reaps
orphans when it is a container's PID 1. A program that cannot be started at all (say the
port is taken) goes FATAL; fieldapp.serving.fatal then stops the whole stack, so that
`fieldapp serve` ends with an error instead of serving half a stack.
"""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

# A program that dies within START_S of starting did not start; after this many such
# failures in a row (waiting 1, 2, 3, ... s between them) it is FATAL.
START_RETRIES = 5


@dataclass(frozen=True)
class Program:
    """One supervised program; `count` > 1 runs that many copies."""

    name: str
    command: list[str]
    priority: int               # started in ascending order, stopped in descending
    stop_signal: str = "TERM"
    stop_wait_s: int = 15       # then SIGKILL to its whole process group
    start_s: int = 2
    count: int = 1


def supervisord_conf(programs: list[Program], run_dir: Path, user: str | None = None) -> str:
    """The whole supervisord.conf: every program's output goes to supervisord's own."""
    lines = [
        "; Written by `fieldapp serve` at every start; edits are lost.",
        "[supervisord]",
        "nodaemon=true",
        # In the foreground supervisord logs to its standard output; no second copy.
        "logfile=/dev/null",
        "logfile_maxbytes=0",
        f"pidfile={_escape(str(run_dir / 'supervisord.pid'))}",
    ]
    if user:
        lines.append(f"user={user}")
    for program in programs:
        lines += ["", f"[program:{program.name}]",
                  f"command={_escape(shlex.join(program.command))}",
                  f"priority={program.priority}",
                  "autostart=true",
                  "autorestart=true",
                  f"startsecs={program.start_s}",
                  f"startretries={START_RETRIES}",
                  f"stopsignal={program.stop_signal}",
                  f"stopwaitsecs={program.stop_wait_s}",
                  # nginx and gunicorn stop their own workers; SIGKILL must reach them too.
                  "stopasgroup=true",
                  "killasgroup=true",
                  "redirect_stderr=true",
                  "stdout_logfile=/dev/fd/1",
                  "stdout_logfile_maxbytes=0"]
        if program.count > 1:
            lines += [f"numprocs={program.count}",
                      "process_name=%(program_name)s-%(process_num)d"]
    lines += ["", "[eventlistener:fatal]",
              f"command={_escape(shlex.join([sys.executable, '-m', 'fieldapp.serving.fatal']))}",
              "events=PROCESS_STATE_FATAL",
              "stderr_logfile=/dev/fd/2",
              "stderr_logfile_maxbytes=0", ""]
    return "\n".join(lines)


def _escape(value: str) -> str:
    # supervisord expands %(name)s in values; a literal % is written %%.
    return value.replace("%", "%%")
