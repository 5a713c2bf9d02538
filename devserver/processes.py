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
from dataclasses import dataclass, field
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

    def write(self, text: str) -> None:
        """Our own lines (the banner), never interleaved with a child's line."""
        with self._lock:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()


@dataclass
class Child:
    """A child process and the thread reading its output. `ready` is set once it printed
    its `ready_marker` (or at once without one); `captured` holds its lines when it was
    started to be read rather than shown."""

    name: str
    process: subprocess.Popen[bytes]
    reader: threading.Thread
    ready: threading.Event = field(default_factory=threading.Event)
    captured: list[str] | None = None


def spawn(
    name: str,
    command: Sequence[str],
    env: dict[str, str],
    output: Output,
    *,
    capture: bool = False,
    ready_marker: str | None = None,
) -> Child:
    """Start `command` in its own session (Ctrl-C reaches only us; we stop it in order);
    its lines go to our stdout after its name, or into `Child.captured`."""
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
    child = Child(name, process, threading.Thread(daemon=True), captured=[] if capture else None)
    if ready_marker is None:
        child.ready.set()
    child.reader = threading.Thread(
        target=_pump,
        args=(child, process.stdout, output, output.prefix(name), ready_marker),
        daemon=True,
    )
    child.reader.start()
    return child


def _pump(
    child: Child, stream: IO[bytes], output: Output, prefix: str, ready_marker: str | None
) -> None:
    """Copy the child's lines until it closes its output (runs in its own thread)."""
    with stream:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            if ready_marker is not None and ready_marker in line:
                child.ready.set()
            if child.captured is not None:
                child.captured.append(line)
            else:
                output.write(f"{prefix}{line}")


def run_step(
    name: str,
    command: Sequence[str],
    env: dict[str, str],
    output: Output,
    children: list[Child],
    *,
    capture: bool = False,
) -> list[str]:
    """Run a preparation command to completion and say how long it took; returns its lines
    when `capture` (shown only if it fails). ServiceError if it fails."""
    started = time.monotonic()
    child = spawn(name, command, env, output, capture=capture)
    children.append(child)
    code = child.process.wait()
    child.reader.join()
    children.remove(child)
    lines = child.captured or []
    if code != 0:
        prefix = output.prefix(name)
        for line in lines:
            output.write(f"{prefix}{line}")
        raise ServiceError(f"`{name}` failed with exit code {code} (output above)")
    say(f"{name}: done in {time.monotonic() - started:.1f} s")
    return lines


def stop_children(children: list[Child], *, last: Sequence[str] = ()) -> None:
    """SIGTERM the children, those named in `last` once the others stopped (the fake PAM,
    which the worker may still be calling), wait up to STOP_SECONDS for each round, then
    SIGKILL what is left of a child's session (a web or Celery pool process its leader
    failed to take down)."""
    first = [child for child in children if child.name not in last]
    _stop([*first])
    _stop([child for child in children if child.name in last])
    children.clear()


def _stop(children: list[Child]) -> None:
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
