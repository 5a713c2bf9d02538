"""CI: the README's `make run` works as a new user would try it, and what it prints works
when pasted.

Starts `make run` (with whatever services the environment gives: .ci/embedded runs it with
embedded ones and nothing answering on 5432/6379), waits for its banner, runs the signed
`curl` exactly as printed, waits for the worker to deliver that ticket's `ticket_create` to
the fake PAM, runs the printed "fresh curl" command and that curl too, then stops the
engine as Ctrl-C would and checks that everything stopped. Exits non-zero on any failure.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 420  # a fresh clone: initdb, migrations, static files
lines: list[str] = []
changed = threading.Condition()


def fail(message: str) -> None:
    sys.stderr.write("".join(line + "\n" for line in lines[-60:]))
    sys.stderr.write(f"run_smoke: FAILED: {message}\n")
    sys.exit(1)


def read(stream: object) -> None:
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode(errors="replace").rstrip("\n")
        sys.stdout.write(f"  | {line}\n")
        with changed:
            lines.append(line)
            changed.notify_all()


def wait_for(pattern: str, *, after: int = 0, timeout: float) -> int:
    """Index of the first line from `after` on matching `pattern`."""
    deadline = time.monotonic() + timeout
    with changed:
        while True:
            for index in range(after, len(lines)):
                if re.search(pattern, lines[index]):
                    return index
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"no line matching {pattern!r} within {timeout:.0f} s")
            changed.wait(min(left, 1.0))


def curl_after(index: int) -> str:
    """The multi-line curl command starting at line `index`, as one shell command."""
    command = []
    for line in lines[index:]:
        command.append(line.rstrip("\\").rstrip())
        if not line.endswith("\\"):
            break
    return " ".join(command)


def place(command: str) -> dict[str, object]:
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        fail(f"the printed curl did not answer JSON: {done.stdout!r} {done.stderr!r}")
    if not isinstance(answer, dict) or answer.get("status") != "open":
        fail(f"the printed curl did not place a ticket: {answer!r}")
    return answer


def main() -> None:
    engine = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the group gets SIGINT, as from a terminal's Ctrl-C
    )
    threading.Thread(target=read, args=(engine.stdout,), daemon=True).start()
    try:
        banner = wait_for(r"^Jackpot engine is running", timeout=START_SECONDS)
        wait_for(r"^A back-office user: ", after=banner, timeout=5)  # the whole banner is in
        ticket = place(curl_after(wait_for(r"^curl -sS", after=banner, timeout=5)))
        print(f"run_smoke: placed ticket {ticket['id']}")
        wait_for(
            rf"pam_webhook_attempt.*ticket_id='{ticket['id']}'.*action='ticket_create'"
            r".*outcome='delivered'",
            timeout=60,
        )
        print("run_smoke: its ticket_create reached the fake PAM")
        hint = lines[wait_for(r"^A fresh curl: ", after=banner, timeout=5)]
        fresh = subprocess.run(
            hint.removeprefix("A fresh curl: "),
            shell=True,  # the line the engine printed, pasted
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        printed = fresh.stdout.splitlines()
        start = next((n for n, line in enumerate(printed) if line.startswith("curl -sS")), None)
        if fresh.returncode != 0 or start is None:
            fail(f"the fresh-curl command failed: {fresh.stdout}{fresh.stderr}")
        lines.extend(printed)
        place(curl_after(len(lines) - len(printed) + start))
        print("run_smoke: the fresh curl placed a ticket too")
    finally:
        if engine.poll() is None:
            os.killpg(engine.pid, signal.SIGINT)
            try:
                engine.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(engine.pid, signal.SIGKILL)
                fail("make run did not stop within 90 s of Ctrl-C")
    wait_for(r"^jackpot: stopped$", timeout=5)
    print("run_smoke: make run stopped on Ctrl-C")


if __name__ == "__main__":
    main()
