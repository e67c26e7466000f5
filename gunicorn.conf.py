"""Gunicorn in production: ``gunicorn alliance.wsgi`` from this folder reads this file.

Sync workers, two per core: each request has a process to itself, and the kernel hands new
connections to whichever worker is free, so under a flash crowd every client waits about as
long as the others (with threaded workers a process that accepted more keep-alive connections
than its neighbours kept its clients waiting longer: a p99 several times the median; see
bench/README.md, "Flash sale"). Sync workers close the connection after each response and must
sit behind a buffering proxy (nginx, the bank's load balancer), which holds slow phones'
uploads and downloads instead of a worker.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1)))
worker_class = "sync"
backlog = 2048  # a flash crowd's connections wait in the kernel's queue, not refused
timeout = 30
graceful_timeout = 30
# Recycle a worker now and then (staggered), so that a slow leak cannot grow for days.
max_requests = 20_000
max_requests_jitter = 2_000
