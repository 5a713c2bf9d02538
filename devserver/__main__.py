"""`python -m devserver exec|run|manage ...`: the Makefile's entry point (see the package)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from devserver.console import ServiceError, say
from devserver.runner import command_exec, command_manage, command_run

USAGE = """usage: python -m devserver exec -- COMMAND [ARGS...]
       python -m devserver run [--port PORT] [--pam-port PORT]
       python -m devserver manage MANAGE_PY_ARGS...
See docs/running.md."""


def main(argv: Sequence[str]) -> int:
    """Dispatch `exec`, `run` and `manage`; returns the process exit code."""
    command, rest = (argv[0], list(argv[1:])) if argv else ("", [])
    if command == "exec" and rest[:1] == ["--"]:
        rest = rest[1:]
    if command not in ("exec", "run", "manage") or (command == "exec" and not rest):
        sys.stderr.write(USAGE + "\n")
        return 2
    try:
        if command == "exec":
            return command_exec(rest)
        return command_run(rest) if command == "run" else command_manage(rest)
    except ServiceError as exc:
        say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
