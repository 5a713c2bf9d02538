"""Process-local caches kept true by PostgreSQL notifications.

Hot read paths (an operator's identity on every API request, a card's kept answer polled by
operators) can be answered from memory only if memory learns of every change. Database
triggers (migrations: operators 0002, betcards 0003) call `pg_notify('jackpot_changes',
'<topic>:<key>')` when a row such a cache holds changes, whatever made the change: the ORM,
raw SQL, a bulk update or a TRUNCATE. PostgreSQL delivers a notification when its
transaction commits, never for one that rolls back.

Each process that uses a cache runs one listener thread (started on first use, again after a
fork) on its own connection, which drops the entries a notification names. The rules that
keep a cache from ever answering with a row older than the last commit it was told of:

- while the listener is not connected (starting, the database restarting), caches answer
  nothing and are not filled: callers read the database exactly as without them;
- on every (re)connection all caches are emptied after LISTEN and before they are used
  again, since notifications sent meanwhile were lost;
- a value read from the database is stored only if no notification for its cache arrived
  since the read began (`ticket()` then `put()`), so a change committed during the read
  cannot be overwritten by the older value;
- a connection that stops answering is found by a ping every `PING_SECONDS` (and TCP
  keepalives), then replaced, caches off meanwhile.

What remains is the delivery delay itself (well under a millisecond on one host): a request
that starts before a commit's notification arrives may still be answered as before it,
just as one that read the database a moment earlier would have been.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Hashable
from typing import Generic, TypeVar

import psycopg
from django.conf import settings
from django.db import connections

CHANNEL = "jackpot_changes"
EVERYTHING = "*"  # the key of a notification that names no row: drop the whole cache
APPLICATION_NAME = "jackpot-change-feed"
PING_SECONDS = 5.0
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LocalCache(Generic[K, V]):
    """Entries of one topic, each tagged with the key notifications name it by (a card id;
    operators are dropped all at once)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._entries: dict[K, tuple[str, V]] = {}
        self._lock = threading.Lock()
        self._epoch = 0
        FEED.register(self)

    def get(self, key: K) -> V | None:
        if not FEED.live():
            return None
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def ticket(self) -> int | None:
        """Take before reading what will be `put`: None while caching is off."""
        return self._epoch if FEED.live() else None

    def put(self, key: K, value: V, *, ticket: int | None, tag: str = EVERYTHING) -> None:
        """Keep `value`, read after `ticket()` was taken, unless a notification came since."""
        if ticket is None:
            return
        with self._lock:
            if ticket == self._epoch and FEED.live():
                self._entries[key] = (tag, value)

    def drop(self, tag: str) -> None:
        with self._lock:
            self._epoch += 1
            if tag == EVERYTHING:
                self._entries.clear()
            else:
                for key in [key for key, (its, _) in self._entries.items() if its == tag]:
                    del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class ChangeFeed:
    """The listener of this process (see the module docstring)."""

    def __init__(self) -> None:
        self._caches: dict[str, list[LocalCache[object, object]]] = {}
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._live = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connections = 0  # successful LISTENs, for tests and logs

    def register(self, cache: LocalCache[K, V]) -> None:
        self._caches.setdefault(cache.topic, []).append(cache)  # type: ignore[arg-type]

    def live(self) -> bool:
        if self._pid != os.getpid():
            self._start()
        return self._live

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()  # a forked child starts its own listener
            self._live = False
            if not settings.LOCAL_CACHES:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="change-feed", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop listening; the next `live()` starts again (tests switch caching on and off)."""
        with self._lock:
            self._stop.set()
            self._live = False
            thread, self._thread, self._pid = self._thread, None, None
        if thread is not None:
            thread.join(timeout=0.1)  # it ends at its next wake-up; it can no longer set live
        self._drop_all()

    def _run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self._listen(stop)
                failures = 0
            except (psycopg.Error, OSError) as error:
                logger.warning("change feed: %s; local caches off until reconnected", error)
                failures += 1
            finally:
                self._set_live(stop, live=False)
                self._drop_all()
            stop.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])

    def _listen(self, stop: threading.Event) -> None:
        params = connections["default"].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("prepare_threshold", None)
        params["application_name"] = APPLICATION_NAME  # seen in pg_stat_activity
        with psycopg.connect(**params, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self._drop_all()  # whatever was sent before LISTEN is lost
            self.connections += 1
            self._set_live(stop, live=True)
            while not stop.is_set():
                for notice in conn.notifies(timeout=PING_SECONDS):
                    self._dispatch(notice.payload)
                    if stop.is_set():
                        break
                conn.execute("SELECT 1")  # a dead connection raises here

    def _set_live(self, stop: threading.Event, *, live: bool) -> None:
        with self._lock:
            if stop is self._stop and not stop.is_set():  # only the current listener
                self._live = live

    def _dispatch(self, payload: str) -> None:
        topic, _, tag = payload.partition(":")
        for cache in self._caches.get(topic, ()):
            cache.drop(tag or EVERYTHING)

    def _drop_all(self) -> None:
        for caches in self._caches.values():
            for cache in caches:
                cache.drop(EVERYTHING)

    def wait_live(self, seconds: float = 10.0) -> bool:
        """Block until the listener is connected (tests, benchmarks)."""
        deadline = time.monotonic() + seconds
        while not self.live():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


FEED = ChangeFeed()
