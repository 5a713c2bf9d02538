"""Which services the running `make run` uses (`var/run.env`), so that a command printed
by the engine works when pasted in another terminal: `python -m devserver manage ...` then
reaches the very database and broker the running engine uses, embedded ones included,
instead of resolving them again (and perhaps finding another PostgreSQL)."""

from __future__ import annotations

import os
from pathlib import Path

from devserver.paths import VAR_DIR

RUN_FILE = VAR_DIR / "run.env"
_KEYS = ("DATABASE_URL", "REDIS_URL")


def run_state_write(environment: dict[str, str], path: Path = RUN_FILE) -> bool:
    """Record this `make run`'s services and process id (mode 0600: URLs may hold a
    password); False, writing nothing, while another `make run` of this checkout is alive
    (its record stays: commands pasted from its banner keep reaching its services)."""
    if _live_pid(path) not in (None, os.getpid()):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"JACKPOT_RUN_PID={os.getpid()}", *(f"{key}={environment[key]}" for key in _KEYS)]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return True


def run_state_clear(*, owner: int, path: Path = RUN_FILE) -> None:
    """Remove the record if it is `owner`'s (another `make run`'s stays)."""
    if _read(path).get("JACKPOT_RUN_PID") == str(owner):
        path.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _live_pid(path: Path) -> int | None:
    """The process id of the record's `make run` while it is alive, else None."""
    try:
        pid = int(_read(path).get("JACKPOT_RUN_PID", "0"))
        if pid <= 0:
            return None
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return None
    except PermissionError:
        pass  # alive, another user's
    return pid


def running_services(path: Path = RUN_FILE) -> dict[str, str] | None:
    """DATABASE_URL and REDIS_URL of the `make run` that is running now, or None."""
    if _live_pid(path) is None:
        return None
    values = _read(path)
    if not all(values.get(key) for key in _KEYS):
        return None
    return {key: values[key] for key in _KEYS}
