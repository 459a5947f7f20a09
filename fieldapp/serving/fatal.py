"""supervisord event listener: a program that cannot be started stops the whole stack.

Without it supervisord would go on serving without, say, nginx (its port taken) or
gunicorn (a broken setting), and `fieldapp serve` would look alive while answering nothing.
Stopped, it ends visibly, and a container runtime or init system can restart it.
"""
from __future__ import annotations

import os
import signal
import sys

from supervisor import childutils


def main() -> None:
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        if headers["eventname"] == "PROCESS_STATE_FATAL":
            name = childutils.get_headers(payload).get("processname", "?")
            print(f"[serve] {name} could not be started; stopping everything",
                  file=sys.stderr, flush=True)
            os.kill(os.getppid(), signal.SIGTERM)
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
