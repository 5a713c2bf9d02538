"""Writing a round's selection results beside its grading, on a second database connection.

Grading (rewriting a million ticket rows) and the selection results (13 million selection
rows) each keep one PostgreSQL backend busy on one core for about as long as the other;
run one after the other they take twice the time on a machine whose other cores sit idle
(docs/settlement.md § A million tickets). `TrailingMarker` writes the selection results in
a thread with its own connection, trailing the grading: once a grading batch has committed,
every ticket up to its last id is graded, so the marker may write their selections while
the next batches are graded. The two never touch the same rows: grading locks and rewrites
tickets and inserts webhooks; the marker reads committed tickets and rewrites selections.

The chunks and their idempotence are `tickets.settlement.grading.selections_chunk_mark`'s:
a killed run leaves some selections unwritten, and the resumed run's marker starts from the
first ticket again, writing only what differs.
"""

from __future__ import annotations

import threading
from types import TracebackType

from django.db import connection

from tickets.settlement.grading import Progress, graded_count, selections_chunk_mark

WAIT_SECONDS = 0.5
"""How often `finish` reports progress while the marker catches up."""


class TrailingMarker:
    """Selection results written by a thread as grading advances (see the module docstring).

    Use as a context manager around the grading loop: call `graded_up_to(last_id)` after
    each committed batch, then `finish(progress)` once grading is over. Leaving the block
    early (an error in grading) stops the thread before the error goes on.
    """

    def __init__(self, params: dict[str, object], *, chunk: int) -> None:
        self._params = params
        self._chunk = chunk
        self._condition = threading.Condition()
        self._graded_up_to: str | None = None
        self._generation = 0  # how many times grading advanced
        self._grading_over = False
        self._stopped = False
        self.marked = 0  # tickets whose selections are written
        self.changed = 0  # selections changed
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="settlement-marker", daemon=True)

    def __enter__(self) -> TrailingMarker:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        self._thread.join()

    def graded_up_to(self, ticket_id: str) -> None:
        """Every ticket of the round with an id up to `ticket_id` is graded and committed."""
        self._raise_error()
        with self._condition:
            self._graded_up_to = ticket_id
            self._generation += 1
            self._condition.notify()

    def finish(self, progress: Progress | None) -> int:
        """Grading is over: wait until every graded ticket's selections are written, with
        progress; return how many selections changed."""
        with self._condition:
            self._grading_over = True
            self._condition.notify()
        total = graded_count(self._params) if progress is not None else 0
        while self._thread.is_alive():
            self._thread.join(WAIT_SECONDS)
            if progress is not None:
                progress("selection results", self.marked, total)
        self._raise_error()
        return self.changed

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            self._mark_all()
        except BaseException as exc:  # handed to the grading thread, which raises it
            self.error = exc
        finally:
            connection.close()  # this thread's own connection

    def _mark_all(self) -> None:
        after = ""
        seen = 0  # the generation whose `graded_up_to` is fully written
        while True:
            with self._condition:
                while not (self._stopped or self._grading_over or self._generation > seen):
                    self._condition.wait()
                if self._stopped:
                    return
                up_to = None if self._grading_over else self._graded_up_to
                generation = self._generation
            last, count, changed = selections_chunk_mark(
                self._params, after=after, up_to=up_to, chunk=self._chunk
            )
            if last is None:  # nothing left up to `up_to`: wait for grading to advance
                if up_to is None:
                    return
                seen = generation
                continue
            after = last
            self.marked += count
            self.changed += changed
