"""A second `make run` in the same checkout leaves the first's record alone
(devserver/runstate.py): commands pasted from the first's banner keep reaching its
services, and stopping the second does not delete the first's `var/run.env`."""

from __future__ import annotations

import os
from pathlib import Path

from devserver.runstate import run_state_clear, run_state_write, running_services

SERVICES = {"DATABASE_URL": "postgres://first", "REDIS_URL": "redis://first"}


def _record_of(pid: int, path: Path) -> None:
    path.write_text(
        f"JACKPOT_RUN_PID={pid}\nDATABASE_URL=postgres://first\nREDIS_URL=redis://first\n"
    )


def test_a_second_run_neither_overwrites_nor_clears_a_live_runs_record(tmp_path: Path) -> None:
    record = tmp_path / "run.env"
    _record_of(os.getppid(), record)  # another process, alive: the first `make run`

    written = run_state_write({"DATABASE_URL": "postgres://2", "REDIS_URL": "r://2"}, record)
    run_state_clear(owner=os.getpid(), path=record)

    assert written is False
    assert running_services(record) == SERVICES


def test_a_run_clears_its_own_record_and_replaces_a_dead_runs(tmp_path: Path) -> None:
    record = tmp_path / "run.env"
    _record_of(2**22 + 12345, record)  # no such process: a run that died

    assert run_state_write(SERVICES, record) is True
    assert running_services(record) == SERVICES
    run_state_clear(owner=os.getpid(), path=record)

    assert not record.exists()
