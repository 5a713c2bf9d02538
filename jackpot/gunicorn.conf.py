# ruff: noqa: N999  (gunicorn finds its config by this conventional file name)
"""Gunicorn settings: `gunicorn -c jackpot/gunicorn.conf.py jackpot.wsgi:application`.

Shared by `make run` (which adds `--bind 127.0.0.1:PORT`) and docker-compose.yml. Each value
can be overridden with a GUNICORN_* variable below or with gunicorn's own GUNICORN_CMD_ARGS.
"""

import os


def _cpu_count() -> int:
    """CPUs this process may run on (a container's cpuset), not the host's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# Threaded workers: API requests are short and mostly wait on PostgreSQL, so threads overlap
# those waits at a fraction of a process's memory; unlike sync workers they also hold idle
# keep-alive connections and slow clients without blocking a whole process (make run has no
# buffering proxy in front). cores + 1 processes keep both cores busy while one is in GC or
# restarting: on 2 cores, 3 processes x 4 threads = 12 requests in flight, each thread with its
# own persistent PostgreSQL connection (CONN_MAX_AGE), well under the default 100.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", str(_cpu_count() + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "15"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))

# Heartbeat files on an overlay filesystem can stall workers in containers; tmpfs cannot.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# No `gunicornc` control socket: its default path ($HOME/.gunicorn/gunicorn.ctl) is shared by
# every gunicorn of the user, so two checkouts (or a read-only HOME in a container) collide.
control_socket_disable = True
proc_name = "jackpot-web"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
