"""`make run`: the whole engine with demo data in one terminal (docs/running.md § make run).

Order: services (devserver.services) → var/local.env secrets → migrate → collectstatic → fake PAM
→ seed_demo → gunicorn, Celery worker, Celery beat. Every line a long-running child prints
carries its name. Ctrl-C, SIGTERM or SIGHUP stops them all, then the embedded servers; a child
that dies stops the rest and the command exits 1. Runs with DEBUG=false (production settings).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from cryptography.fernet import Fernet

from devserver.console import ServiceError, say
from devserver.paths import CHECKOUT, MANAGE_PY, VAR_DIR
from devserver.processes import Child, Output, run_foreground, run_step, spawn, stop_children
from devserver.services import Services, services_resolve

LOCAL_ENV = VAR_DIR / "local.env"
MANAGE = [sys.executable, str(MANAGE_PY)]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_GENERATORS: dict[str, Callable[[], str]] = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "OPERATOR_SECRET_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
}


class StopRequested(Exception):
    """Raised in the main thread when a stop signal arrives."""


def local_secrets(path: Path = LOCAL_ENV) -> dict[str, str]:
    """SECRET_KEY and OPERATOR_SECRET_ENCRYPTION_KEY of this checkout, generated on first use.

    Kept in var/local.env (mode 0600) and reused ever after: operator secrets are stored
    encrypted with the Fernet key, so a new key would make every stored secret unreadable.
    A key missing from the file is added; an existing one is never replaced.
    """
    text = path.read_text() if path.exists() else ""
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    missing = {name: make() for name, make in _GENERATORS.items() if not values.get(name)}
    if missing:
        if not text:
            text = "# Secrets of this checkout for `make run`, generated once. Keep this file:\n"
            text += "# stored operator secrets cannot be decrypted without its encryption key.\n"
        text = text if text.endswith("\n") else text + "\n"
        text += "".join(f"{name}={value}\n" for name, value in missing.items())
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        temporary.replace(path)
        values.update(missing)
    return {name: values[name] for name in _GENERATORS}


def run_environment(services: Services, local: dict[str, str]) -> dict[str, str]:
    """The environment of every process `run` and `manage` start.

    Variables already set win over var/local.env. Cookies are not marked Secure, since `run`
    serves plain HTTP on 127.0.0.1 (set SESSION_COOKIE_SECURE/CSRF_COOKIE_SECURE to override).
    """
    environment = {**os.environ, **services.environment()}
    for name, value in local.items():
        if not environment.get(name):
            environment[name] = value
    environment["DEBUG"] = "false"
    environment.setdefault("SESSION_COOKIE_SECURE", "false")
    environment.setdefault("CSRF_COOKIE_SECURE", "false")
    environment["DJANGO_SETTINGS_MODULE"] = "jackpot.settings"
    environment["PYTHONUNBUFFERED"] = "1"  # child lines reach the terminal as they are printed
    return environment


# ----------------------------------------------------------------------------- run
def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own http URL)
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _command_exists(name: str) -> bool:
    return any(CHECKOUT.glob(f"*/management/commands/{name}.py"))


def _banner(base: str, pam_url: str | None, services: Services) -> str:
    python = os.path.relpath(sys.executable, Path.cwd())
    lines = [
        "",
        "Jackpot engine is running (Ctrl-C stops everything):",
        f"  Operator API  {base}/be/",
        f"  Health        {base}/health",
        f"  Back office   {base}/admin/",
    ]
    if _http_status(f"{base}/be/docs") == 200:
        lines.append(f"  API docs      {base}/be/docs")
    lines.append(f"  Metrics       {base}/metrics")
    if pam_url:
        lines.append(f"  Fake PAM      {pam_url}")
    lines += [f"  {name:<13} {source}" for name, source in services.sources.items()]
    lines += [
        "Create a back-office user (in another terminal):",
        f"  {python} -m devserver manage createsuperuser",
        "",
    ]
    return "\n".join(lines)


def _supervise(children: list[Child], base: str, banner: Callable[[], str]) -> int:
    """Watch the children until one exits (returns 1); print the banner once /health answers."""
    banner_due = True
    while True:
        for child in children:
            code = child.process.poll()
            if code is not None:
                say(f"{child.name} exited with code {code}: stopping everything")
                return 1
        if banner_due and _http_status(f"{base}/health") == 200:
            sys.stdout.write(banner() + "\n")
            sys.stdout.flush()
            banner_due = False
        time.sleep(0.5)


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(signal.Signals(signum).name)


def _still_stopping(_signum: int, _frame: FrameType | None) -> None:
    say("still stopping, please wait")


def _start_engine(
    args: argparse.Namespace, env: dict[str, str], output: Output, children: list[Child]
) -> None:
    """Steps after the services: migrate, static files, fake PAM, demo data, then web, worker
    and beat. Every process started is in `children` while it runs."""
    base, pam_url = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.pam_port}/pam"
    run_step("migrate", [*MANAGE, "migrate", "--noinput"], env, output, children)
    run_step("static", [*MANAGE, "collectstatic", "--noinput"], env, output, children)
    if args.fake_pam:
        pam = [*MANAGE, "fake_pam", "--port", str(args.pam_port)]
        children.append(spawn("pam", pam, env, output))
    else:
        say("no fake_pam command in this checkout yet: starting without a fake PAM")
    if _command_exists("seed_demo"):
        seed = [*MANAGE, "seed_demo", "--webhook-url", pam_url, "--base-url", base]
        run_step("seed", seed, env, output, children, raw=True)
    else:
        say("no seed_demo command in this checkout yet: no demo data")
    gunicorn = ["-m", "gunicorn", "-c", str(CHECKOUT / "jackpot" / "gunicorn.conf.py")]
    gunicorn += ["--bind", f"127.0.0.1:{args.port}", "jackpot.wsgi:application"]
    children.append(spawn("web", [sys.executable, *gunicorn], env, output))
    celery = [sys.executable, "-m", "celery", "-A", "jackpot"]
    worker = [*celery, "worker", "-l", "info"]  # WORKER_CONCURRENCY pool processes
    children.append(spawn("worker", worker, env, output))
    beat = [*celery, "beat", "-l", "info", "-s", str(VAR_DIR / "celerybeat-schedule")]
    children.append(spawn("beat", beat, env, output))


def command_run(argv: Sequence[str]) -> int:
    """`run [--port N] [--pam-port N]`; returns the exit code (0 after a requested stop)."""
    parser = argparse.ArgumentParser(prog="python -m devserver run")
    parser.add_argument("--port", type=int, default=os.environ.get("PORT", "8000"))
    pam_port = os.environ.get("JACKPOT_FAKE_PAM_PORT", "8765")
    parser.add_argument("--pam-port", type=int, default=pam_port)
    args = parser.parse_args(argv)
    args.fake_pam = _command_exists("fake_pam")
    base = f"http://127.0.0.1:{args.port}"
    pam_url = f"http://127.0.0.1:{args.pam_port}/pam" if args.fake_pam else None
    children: list[Child] = []
    services: Services | None = None
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    try:
        for port in [args.port, *([args.pam_port] if args.fake_pam else [])]:
            if not _port_free(port):
                raise ServiceError(f"port {port} is in use: pass --port/--pam-port or set PORT")
        services = resolved = services_resolve()
        _start_engine(args, run_environment(services, local_secrets()), Output(), children)
        return _supervise(children, base, lambda: _banner(base, pam_url, resolved))
    except StopRequested as stop:
        say(f"{stop} received: stopping")
        return 0
    except ServiceError as exc:
        say(f"error: {exc}")
        return 1
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, _still_stopping)
        stop_children(children)
        if services is not None:
            services.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        say("stopped")


def command_manage(argv: Sequence[str]) -> int:
    """`manage ARGS`: manage.py with the services and secrets `run` uses, so that e.g.
    create_operator encrypts with the key the running engine decrypts with."""
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
