"""The unit of work: one database transaction per use case.

Services wrap their work in `unit_of_work()`. The outermost one commits (or rolls back on any
exception); nested ones join it. That lets the HTTP idempotency layer open an outer unit so the
stored response commits atomically with the effect it describes, while services stay usable and
testable on their own. Work to do after commit (enqueueing jobs, Redis updates) is registered
with `after_commit` and runs only if the transaction committed.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Callable, Iterator

from carbon_credits.services import statements
from models import db

log = logging.getLogger(__name__)

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("uow_depth", default=0)
_after_commit: contextvars.ContextVar[list | None] = contextvars.ContextVar("uow_after", default=None)


@contextlib.contextmanager
def unit_of_work() -> Iterator:
    depth = _depth.get()
    token = _depth.set(depth + 1)
    outermost = depth == 0
    callbacks_token = _after_commit.set([]) if outermost else None
    try:
        yield db.session
        if outermost:
            # Deferred statements leave with the COMMIT when they can, else just before it.
            if not statements.commit_deferred():
                statements.flush()
            db.session.commit()
    except BaseException:
        if outermost:
            statements.discard_deferred()
            db.session.rollback()
        raise
    else:
        if outermost:
            for callback in _after_commit.get() or []:
                try:
                    callback()
                except Exception:  # a side effect must never undo a committed change
                    log.exception("after-commit callback failed")
    finally:
        _depth.reset(token)
        if callbacks_token is not None:
            _after_commit.reset(callbacks_token)


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the outermost unit of work commits; immediately if none is open."""
    pending = _after_commit.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


def in_unit_of_work() -> bool:
    return _depth.get() > 0
