"""Keyset pagination helpers shared by every list service."""
from __future__ import annotations

from sqlalchemy import and_, or_

from models import db


def keyset_after(columns, values, *, descending: bool = True):
    """WHERE clause for rows strictly after `values` in the (columns) ordering.

    Built as an OR of column comparisons (not a row-value tuple) so each bind takes its column's
    type, which matters for aware datetimes and UUIDs on SQLite.
    """
    clauses = []
    for i, column in enumerate(columns):
        equal_prefix = [columns[j] == values[j] for j in range(i)]
        step = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal_prefix, step))
    return or_(*clauses)


def where_given(query, *filters):
    """Narrow `query` by each `(column, compare, value)` whose value was given (not None or
    empty): the optional filters of a list, e.g. `(Action.status, operator.eq, status)`."""
    return query.where(*[compare(column, value) for column, compare, value in filters if value])


def take_page(rows: list, limit: int, key):
    """Split `limit + 1` fetched rows into the page and the cursor values of its last row."""
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (key(rows[-1]) if more and rows else None)


def descending_key_page(query, key, *, after: tuple | None, limit: int, session=None):
    """The page of a list ordered by one increasing key, newest first (a ledger `seq`, an audit
    `id`): read after the cursor `after`, through `session` (a replica's, say); returns the rows
    and the cursor of the last one."""
    if after:
        query = query.where(key < after[0])
    rows = list((session or db.session).scalars(query.order_by(key.desc()).limit(limit + 1)))
    return take_page(rows, limit, lambda row: (getattr(row, key.key),))


def newest_first_page(query, moment, ident, *, after: tuple | None, limit: int):
    """The page most lists are: `query`, ordered by `moment` then `ident`, both descending,
    read after the cursor `after`; returns the rows and the cursor of the last one."""
    if after:
        query = query.where(keyset_after([moment, ident], after))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return take_page(rows, limit, lambda row: (getattr(row, moment.key).isoformat(),
                                               getattr(row, ident.key)))
