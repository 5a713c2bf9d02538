"""Placeholder: runs a command with the environment's services (embedded fallback to come)."""

import os
import sys


def main(argv: list[str]) -> None:
    if argv[:1] == ["exec"] and "--" in argv:
        command = argv[argv.index("--") + 1 :]
        os.execvp(command[0], command)  # noqa: S606
    raise SystemExit("usage: python -m jackpot.embedded exec -- COMMAND")


if __name__ == "__main__":
    main(sys.argv[1:])
