"""A request whose pooled PostgreSQL connection turns out to be dead (the server restarted since
it was opened) runs once more on a fresh one, instead of answering 503.

This replaces `pool_pre_ping`, which cost every request a round trip to find out. It is safe
because it only happens when no statement of the request completed: nothing can have been
committed, and the dead connection's transaction is gone with it. A failure after anything went
through is answered as before (503, retry with the same Idempotency-Key)."""
from __future__ import annotations

from flask import Flask, g
from sqlalchemy.exc import DBAPIError

from carbon_credits.services import statements


def install(app: Flask) -> None:
    with app.app_context():
        statements.track_engine()
    app.before_request(statements.start_tracking)
    dispatch = app.dispatch_request

    def dispatch_request():
        try:
            return dispatch()
        except DBAPIError as error:
            if (not error.connection_invalidated or statements.anything_succeeded()
                    or g.get("reconnected")):
                raise
            g.reconnected = True
            statements.discard_transaction()
            return dispatch()

    app.dispatch_request = dispatch_request
