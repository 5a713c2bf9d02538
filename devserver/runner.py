"""`make run`: the whole engine with demo data in one terminal (docs/running.md § make run).

Order: services (devserver.services) → var/local.env secrets → migrate → static files (only
when they changed) → then at once: fake PAM, web (`jackpot.serve`), Celery worker and beat,
and the demo data. Once the API is ready and the worker listens, a banner gives the URLs and
the signed `curl` of a demo ticket. Every line a long-running child prints carries its name;
each preparation step says how long it took. Ctrl-C, SIGTERM or SIGHUP stops them all, then
the embedded servers; a child that dies stops the rest and the command exits 1. Runs with
DEBUG=false (production settings).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from devserver.console import ServiceError, say
from devserver.paths import CHECKOUT, MANAGE_PY, VAR_DIR
from devserver.processes import Child, Output, run_foreground, run_step, spawn, stop_children
from devserver.runstate import run_state_clear, run_state_write, running_services
from devserver.secrets import local_secrets
from devserver.services import Services, services_resolve

MANAGE = [sys.executable, str(MANAGE_PY)]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STATIC_STAMP = VAR_DIR / "staticfiles" / ".jackpot-stamp"
READY_SECONDS = 120.0


class StopRequested(Exception):
    """Raised in the main thread when a stop signal arrives."""


def run_environment(services: Services, local: dict[str, str]) -> dict[str, str]:
    """The environment of every process `run` and `manage` start.

    Variables already set win over var/local.env. Cookies are not marked Secure, since `run`
    serves plain HTTP on 127.0.0.1 (set SESSION_COOKIE_SECURE/CSRF_COOKIE_SECURE to override),
    and the demo operator's webhook URL is the local fake PAM, an internal address.
    """
    environment = {**os.environ, **services.environment()}
    for name, value in local.items():
        if not environment.get(name):
            environment[name] = value
    environment["DEBUG"] = "false"
    environment.setdefault("SESSION_COOKIE_SECURE", "false")
    environment.setdefault("CSRF_COOKIE_SECURE", "false")
    environment.setdefault("PAM_ALLOW_PRIVATE_URLS", "true")
    environment["DJANGO_SETTINGS_MODULE"] = "jackpot.settings"
    environment["PYTHONUNBUFFERED"] = "1"  # child lines reach the terminal as they are printed
    return environment


@dataclass(frozen=True)
class Plan:
    port: int
    pam_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pam_url(self) -> str:
        return f"http://127.0.0.1:{self.pam_port}/pam"


# ----------------------------------------------------------------------------- steps
def _static_stamp() -> str:
    """What the collected static files depend on: the locked packages (Django's admin,
    the API docs) and the engine's templates directory listing."""
    digest = hashlib.sha256((CHECKOUT / "uv.lock").read_bytes())
    for path in sorted((CHECKOUT / "jackpot" / "templates").rglob("*")):
        digest.update(str(path.relative_to(CHECKOUT)).encode())
    return digest.hexdigest()


def _prepare(env: dict[str, str], output: Output, children: list[Child]) -> None:
    """Migrations, and static files when what they come from changed (collecting and
    compressing them takes several seconds)."""
    lines = run_step(
        "migrate", [*MANAGE, "migrate", "--noinput"], env, output, children, capture=True
    )
    applied = [line.strip() for line in lines if line.strip().startswith("Applying")]
    say(f"migrate: {len(applied)} migration(s) applied" if applied else "migrate: up to date")
    stamp = _static_stamp()
    if STATIC_STAMP.exists() and STATIC_STAMP.read_text() == stamp:
        say("static files: unchanged, not collected again")
        return
    static = [*MANAGE, "collectstatic", "--noinput", "--clear"]
    run_step("static", static, env, output, children, capture=True)
    STATIC_STAMP.write_text(stamp)


def _metrics_directory(role: str, port: int) -> str:
    """A fresh PROMETHEUS_MULTIPROC_DIR per long-running role (its processes add up), per
    `make run` (by its port: a second one in the same checkout leaves the first's alone)."""
    directory = VAR_DIR / "metrics" / str(port) / role
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return str(directory)


def _start(plan: Plan, env: dict[str, str], output: Output, children: list[Child]) -> Child:
    """Fake PAM, web, worker and beat, and the demo data meanwhile; returns the seed step."""
    children.append(spawn("pam", [*MANAGE, "fake_pam", "--port", str(plan.pam_port)], env, output))
    web_env = {**env, "WEB_BIND": f"127.0.0.1:{plan.port}"}
    web_env["PROMETHEUS_MULTIPROC_DIR"] = _metrics_directory("web", plan.port)
    children.append(spawn("web", [sys.executable, "-m", "jackpot.serve"], web_env, output))
    celery = [sys.executable, "-m", "celery", "-A", "jackpot", "--quiet"]
    worker_env = {**env, "PROMETHEUS_MULTIPROC_DIR": _metrics_directory("worker", plan.port)}
    worker = [*celery, "worker", "-l", "info"]  # WORKER_CONCURRENCY pool processes
    children.append(spawn("worker", worker, worker_env, output, ready_marker=" ready."))
    # Beat at WARNING: at INFO its line per due task (every 15-60 s) buries the banner's curl.
    beat = [*celery, "beat", "-l", "warning", "-s", str(VAR_DIR / "celerybeat-schedule")]
    children.append(spawn("beat", beat, env, output))
    seed = [*MANAGE, "seed_demo", "--webhook-url", plan.pam_url, "--base-url", plan.base]
    seeding = spawn("seed", seed, env, output, capture=True)
    children.append(seeding)
    return seeding


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own http URL)
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _wait_ready(plan: Plan, children: list[Child], seeding: Child, started: float) -> list[str]:
    """Until the API is ready (/ready: database and broker answer), the worker listens and
    the demo data is in; returns the seed's lines. ServiceError if a child dies."""
    deadline = time.monotonic() + READY_SECONDS
    seeded: list[str] | None = None
    while True:
        for child in children:
            code = child.process.poll()
            if code is not None and child is not seeding:
                raise ServiceError(f"{child.name} exited with code {code}: stopping everything")
        if seeded is None and seeding.process.poll() is not None:
            seeding.reader.join()
            seeded = seeding.captured or []
            children.remove(seeding)
            if seeding.process.returncode != 0:
                raise ServiceError("seed_demo failed:\n" + "\n".join(seeded))
            say(f"demo data: done after {time.monotonic() - started:.1f} s")
        worker = next(child for child in children if child.name == "worker")
        if (
            seeded is not None
            and worker.ready.is_set()
            and _http_status(f"{plan.base}/ready") == 200
        ):
            say(f"engine ready {time.monotonic() - started:.1f} s after the start")
            return seeded
        if time.monotonic() > deadline:
            raise ServiceError(f"the engine was not ready after {READY_SECONDS:.0f} s")
        time.sleep(0.2)


def _banner(plan: Plan, services: Services, seeded: list[str], metrics_token: str) -> str:
    python = os.path.relpath(sys.executable, Path.cwd())
    curl = [line for line in seeded if line.startswith(("curl ", "  -H", "  --data-raw"))]
    operator = [line for line in seeded if line.startswith(("operator: ", "secret key: "))]
    pam_requests = plan.pam_url.removesuffix("/pam") + "/requests"
    lines = [
        "",
        "Jackpot engine is running (Ctrl-C stops everything):",
        f"  Operator API  {plan.base}/be/   (docs {plan.base}/be/docs)",
        f"  Back office   {plan.base}/admin/",
        f"  Probes        {plan.base}/health  {plan.base}/ready",
        f"  Metrics       curl -H 'Authorization: Bearer {metrics_token}' {plan.base}/metrics",
        f"  Fake PAM      {plan.pam_url}   (what it received: GET {pam_requests})",
        *(f"  Demo {line}" for line in operator),
        *(f"  {name:<13} {source}" for name, source in services.sources.items()),
        "",
        "Place a demo ticket (paste it; its signature is valid for 5 minutes):",
        "",
        *curl,
        "",
        f"A fresh curl: {python} -m devserver manage seed_demo --base-url {plan.base}",
        f"A back-office user: {python} -m devserver manage createsuperuser",
        "",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- commands
def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


def _still_stopping(_signum: int, _frame: FrameType | None) -> None:
    say("still stopping, please wait")


def _supervise(children: list[Child]) -> int:
    """Watch the children until one exits; returns 1 then."""
    while True:
        for child in children:
            code = child.process.poll()
            if code is not None:
                say(f"{child.name} exited with code {code}: stopping everything")
                return 1
        time.sleep(0.5)


def command_run(argv: Sequence[str]) -> int:
    """`run [--port N] [--pam-port N]`; returns the exit code (0 after a requested stop)."""
    parser = argparse.ArgumentParser(prog="python -m devserver run")
    parser.add_argument("--port", type=int, default=os.environ.get("PORT", "8000"))
    pam_port = os.environ.get("JACKPOT_FAKE_PAM_PORT", "8765")
    parser.add_argument("--pam-port", type=int, default=pam_port)
    args = parser.parse_args(argv)
    plan = Plan(port=args.port, pam_port=args.pam_port)
    started = time.monotonic()
    children: list[Child] = []
    services: Services | None = None
    output = Output()
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    try:
        for port, option, variable in (
            (plan.port, "--port", "PORT"),
            (plan.pam_port, "--pam-port", "JACKPOT_FAKE_PAM_PORT"),
        ):
            if not _port_free(port):
                raise ServiceError(f"port {port} is in use: pass {option} or set {variable}")
        services = services_resolve()
        env = run_environment(services, local_secrets())
        if not run_state_write(env):
            say(
                "another make run of this checkout is running: var/run.env keeps pointing "
                "`python -m devserver manage` at its services"
            )
        _prepare(env, output, children)
        seeding = _start(plan, env, output, children)
        seeded = _wait_ready(plan, children, seeding, started)
        output.write(_banner(plan, services, seeded, env["METRICS_TOKEN"]))
        return _supervise(children)
    except StopRequested as stop:
        say(f"{stop} received: stopping")
        return 0
    except ServiceError as exc:
        say(f"error: {exc}")
        return 1
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, _still_stopping)
        stop_children(children, last=("pam",))
        run_state_clear(owner=os.getpid())
        if services is not None:
            services.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopped")


def command_manage(argv: Sequence[str]) -> int:
    """`manage ARGS`: manage.py with the services and secrets `run` uses, so that e.g.
    create_operator encrypts with the key the running engine decrypts with. While a
    `make run` runs, its very database and broker (var/run.env), embedded ones included."""
    running = None
    if not (os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL")):
        running = running_services()
    if running is not None:
        say("using the services of the running `make run`")
        services = Services(database_url=running["DATABASE_URL"], redis_url=running["REDIS_URL"])
    else:
        services = services_resolve()
    try:
        return run_foreground([*MANAGE, *argv], run_environment(services, local_secrets()))
    finally:
        services.stop()


def command_exec(command: Sequence[str]) -> int:
    """`exec -- CMD`: CMD with DATABASE_URL/REDIS_URL exported; embedded servers stop after."""
    services = services_resolve()
    try:
        return run_foreground(command, {**os.environ, **services.environment()})
    finally:
        services.stop()
