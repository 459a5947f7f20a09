"""Serving: one command, `fieldapp serve`, runs the whole stack under one supervisor.

nginx faces the clients and buffers every request body and response, so a slow phone or a
slow reader holds an nginx connection (a few KB) instead of a gunicorn thread; gunicorn
answers on a unix socket only nginx can reach; the analysers and the job worker run beside
them. proxy.py and supervision.py write the configuration files (pure: plain values in,
text out); service.py prepares the directories and hands over to supervisord.
"""
