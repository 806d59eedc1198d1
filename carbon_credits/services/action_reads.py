"""Reading green actions: a citizen's own, any one (auditors), and the keyset-paginated list."""
from __future__ import annotations

import datetime as dt
import operator
import uuid

from sqlalchemy import select

from carbon_credits.domain.errors import NotFound
from carbon_credits.services.pagination import newest_first_page, where_given
from carbon_credits.services.regions import in_district, scoped_region
from models import Action, db


def get_own_action_or_raise(*, user_id: uuid.UUID, action_id: uuid.UUID) -> Action:
    action = db.session.get(Action, action_id)
    if action is None or action.user_id != user_id:
        raise NotFound("Action not found.")
    return action


def get_action_or_raise(action_id: uuid.UUID, *, within: str | None = None) -> Action:
    """Any action; for staff scoped to a district (`within`), only that district's."""
    action = db.session.get(Action, action_id)
    if action is None or not in_district(action.region, within):
        raise NotFound("Action not found.")
    return action


def list_actions(*, user_id: uuid.UUID | None, action_type: str | None = None,
                 status: str | None = None, occurred_from: dt.datetime | None = None,
                 occurred_to: dt.datetime | None = None, after: tuple | None = None,
                 limit: int = 50, region: str | None = None, within: str | None = None):
    """Newest first, keyset-paginated; `user_id=None` lists everyone's (auditors), of `region`
    if given, and never outside the district `within` of staff scoped to one."""
    region = scoped_region(region, within)
    query = where_given(select(Action).order_by(Action.created_at.desc(), Action.id.desc()),
                        (Action.user_id, operator.eq, user_id),
                        (Action.action_type, operator.eq, action_type),
                        (Action.status, operator.eq, status),
                        (Action.occurred_at, operator.ge, occurred_from),
                        (Action.occurred_at, operator.lt, occurred_to),
                        (Action.region, operator.eq, region))
    return newest_first_page(query, Action.created_at, Action.id, after=after, limit=limit)
