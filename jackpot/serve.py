"""The engine's web server: `python -m jackpot.serve` (docker-compose.yml, `make run`).

Granian (a Rust HTTP server with an asynchronous HTTP layer) serves `jackpot.rsgi`, which
reads each request's body without holding a thread: slow clients cost no Python thread
(docs/running.md § Slow clients). Tuned by environment variables:

| variable | default | meaning |
|---|---|---|
| `WEB_BIND` | `0.0.0.0:$PORT` (`PORT` default 8000) | listen address |
| `WEB_WORKERS` | CPUs | worker processes |
| `WEB_THREADS` | 8 | threads per worker running Django (settings) |
| `WEB_BACKLOG` | 1024 | pending connections the socket holds |
| `WEB_HEADER_TIMEOUT_SECONDS` | 10 | a client's time to send its headers |
| `WEB_ACCESS_LOG` | true | one line per request on stdout |
| `WEB_TARGET` | `jackpot.rsgi:application` | the RSGI application (benchmarks wrap it) |

Prometheus metrics of all workers are added up (`PROMETHEUS_MULTIPROC_DIR`, emptied here
before the workers start; default a fresh temporary directory), so /metrics says the same
whichever worker answers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def _cpu_count() -> int:
    """CPUs this process may run on (a container's cpuset), not the host's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def metrics_directory_prepare() -> Path:
    """PROMETHEUS_MULTIPROC_DIR, created and emptied (the counters of earlier processes
    would otherwise be added to this run's), and exported to the workers."""
    directory = Path(
        os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        or tempfile.mkdtemp(prefix="jackpot-web-metrics-")
    )
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    host, _, port = (
        os.environ.get("WEB_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
    ).rpartition(":")
    metrics_directory_prepare()
    header_timeout = float(os.environ.get("WEB_HEADER_TIMEOUT_SECONDS", "10"))
    Granian(
        os.environ.get("WEB_TARGET") or "jackpot.rsgi:application",
        address=host.strip("[]") or "0.0.0.0",  # noqa: S104 - a server binds every address by default
        port=int(port),
        interface=Interfaces.RSGI,
        workers=int(os.environ.get("WEB_WORKERS") or _cpu_count()),
        backlog=int(os.environ.get("WEB_BACKLOG", "1024")),
        http1_settings=HTTP1Settings(header_read_timeout=int(header_timeout * 1000)),
        websockets=False,
        log_access=os.environ.get("WEB_ACCESS_LOG", "true").lower() in ("1", "true", "yes"),
        log_access_format='%(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1fms',
        respawn_failed_workers=True,
        workers_kill_timeout=int(os.environ.get("WEB_KILL_TIMEOUT_SECONDS", "15")),
    ).serve()


if __name__ == "__main__":
    main()
