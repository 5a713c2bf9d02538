# The README's two commands are `make run` and `make test`; .ci/run calls `make test`.
# Everything installs into ./.venv (uv, locked by uv.lock); services fall back to embedded
# PostgreSQL/Redis under ./var when DATABASE_URL/REDIS_URL are unset and nothing answers.

PYTHON ?= python3.11
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
# Two processes by default (tests/support/worker.py gives each its own ports).
PYTEST_ARGS ?= -n 2

.PHONY: setup run test lint typecheck check bench fmt

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check 'uv>=0.9,<1'

# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (CI, containers) no
# pyc file is written on the fly, and every Python process of `make run` and of the tests
# would compile its imports again (~3 s each on the 2-core development machine).
setup: $(UV)
	$(UV) sync --frozen --python $(PYTHON) --quiet --compile-bytecode
	$(PY) -m compileall -q -j 0 jackpot operators betcards tickets devserver > /dev/null

run: setup
	$(PY) -m devserver run

test: setup
	$(PY) -m devserver exec -- $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: setup
	$(VENV)/bin/mypy .

fmt: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: lint typecheck test

bench: setup
	$(PY) -m devserver exec -- $(PY) benchmarks/place_ticket.py
