"""Enqueueing background work after commit, safely.

The database is the record of what must happen (a notice row, a lead marked for rescoring, a
queued job); the broker only carries the nudge. If the broker is away when a transaction
commits, the nudge is logged and dropped instead of turning a committed write into an error,
and a beat sweep finds the recorded work and enqueues it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction

logger = logging.getLogger(__name__)


def delay_safely(task: Any, *args: Any) -> bool:
    """task.delay(*args); False (logged) if the broker cannot take it now."""
    try:
        task.delay(*args)
    except Exception as exc:  # noqa: BLE001 - any broker failure; the sweep recovers the work
        logger.warning("could not enqueue %s%r (a sweep will retry): %s", task.name, args, exc)
        return False
    return True


def enqueue_after_commit(task: Any, *args: Any) -> None:
    """Enqueue once the current transaction commits (at once outside one), never raising."""
    transaction.on_commit(lambda: delay_safely(task, *args))


@contextmanager
def heartbeat(beat: Callable[[], Any], *, every: float) -> Iterator[None]:
    """Call `beat` every `every` seconds in a thread while the block runs, so a long step
    (a slow rescore chunk) keeps its claim fresh and no sweep hands it to a second worker.

    The thread uses its own database connection in autocommit, so its writes are visible at
    once; it closes that connection when the block ends.
    """
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(every):
                try:
                    beat()
                except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                    logger.exception("heartbeat failed")
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 10)
