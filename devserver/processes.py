"""Child processes of the dev tooling.

- `run_foreground`: one command in our terminal (`exec`, `manage`), signals passed on;
- `spawn`/`run_step`/`stop_children`: the named children of `make run`, each line of their
  output prefixed with the name. Each child runs in its own session, so a terminal's Ctrl-C
  reaches only the supervisor (`devserver.runner`), which then stops them in order.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import IO

from devserver.console import ServiceError, say
from devserver.paths import CHECKOUT

STOP_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> None:
    """`preexec_fn` for servers we start: Linux sends the child SIGTERM when its parent dies,
    even by SIGKILL, so no embedded server or engine process outlives its supervisor."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def run_foreground(command: Sequence[str], environment: Mapping[str, str]) -> int:
    """Run `command` in our terminal and return its exit code (128+N if killed by signal N).

    Ctrl-C reaches the command directly (same process group), so we ignore SIGINT and wait;
    SIGTERM and SIGHUP are passed on to it.
    """
    try:
        process = subprocess.Popen(command, env=dict(environment), cwd=CHECKOUT)  # noqa: S603
    except OSError as exc:
        say(f"cannot run {command[0]!r}: {exc}")
        return 127

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    handlers = {
        sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    try:
        code = process.wait()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


class Output:
    """Writes children's output lines to our stdout, each after its child's name."""

    COLORS = ("36", "33", "35", "32", "34", "31")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._color = sys.stdout.isatty()
        self._count = 0

    def prefix(self, name: str) -> str:
        label = f"{name:>7} |"
        if self._color:
            label = f"\x1b[{self.COLORS[self._count % len(self.COLORS)]}m{label}\x1b[0m"
            self._count += 1
        return label + " "

    def pump(self, stream: IO[bytes], prefix: str) -> None:
        """Copy `stream` line by line until the child closes it (runs in its own thread)."""
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace").rstrip("\r\n")
                with self._lock:
                    sys.stdout.write(f"{prefix}{line}\n")
                    sys.stdout.flush()


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    reader: threading.Thread


def spawn(
    name: str, command: Sequence[str], env: dict[str, str], output: Output, *, raw: bool = False
) -> Child:
    """Start `command` in its own session (Ctrl-C reaches only us; we stop it in order)."""
    process = subprocess.Popen(  # noqa: S603 (our interpreter and fixed arguments)
        list(command),
        cwd=CHECKOUT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 (only prctl runs between fork and exec)
    )
    assert process.stdout is not None
    prefix = "" if raw else output.prefix(name)
    reader = threading.Thread(target=output.pump, args=(process.stdout, prefix), daemon=True)
    reader.start()
    return Child(name, process, reader)


def run_step(
    name: str,
    command: Sequence[str],
    env: dict[str, str],
    output: Output,
    children: list[Child],
    *,
    raw: bool = False,
) -> None:
    """Run a preparation command to completion; ServiceError if it fails."""
    child = spawn(name, command, env, output, raw=raw)
    children.append(child)
    code = child.process.wait()
    child.reader.join()
    children.remove(child)
    if code != 0:
        raise ServiceError(f"`manage.py {command[2]}` failed with exit code {code} (output above)")


def stop_children(children: list[Child]) -> None:
    """SIGTERM each child, wait up to STOP_SECONDS, then SIGKILL what is left of its session
    (a gunicorn worker or Celery pool process its leader failed to take down)."""
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} did not stop within {STOP_SECONDS:.0f} s: killing it")
        with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left: fine
            os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait()
        child.reader.join(timeout=2)
    children.clear()
