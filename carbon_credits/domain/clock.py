"""The one clock: the current instant as the scheme stores it, aware UTC. Models re-export it
for their column defaults; code above the models (the HTTP schemas) imports it from here."""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(dt.timezone.utc)
