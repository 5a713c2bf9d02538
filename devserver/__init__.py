"""The tooling behind `make run` and `make test` (docs/running.md).

It finds or starts PostgreSQL and Redis (embedded ones when the machine has none), runs
commands with their URLs exported, and supervises the whole engine with demo data. Nothing
in the engine imports it: a deployment runs the engine's processes directly.

    python -m devserver exec -- CMD...     CMD with DATABASE_URL/REDIS_URL exported
    python -m devserver run [--port N]     the whole engine with demo data
    python -m devserver manage ARGS...     manage.py ARGS with the settings `run` uses
"""
