"""Households sharing a metered utility account: membership and split (`membership`), and the
monthly meter readings a utility posts, credited to the members (`readings`).
docs/households.md."""
from carbon_credits.services.households.membership import (  # noqa: F401
    HouseholdView, create_household, get_my_household, invite, join, leave, leave_on_erasure,
    members_at,
    require_member, set_split)
from carbon_credits.services.households.readings import (  # noqa: F401
    ReadingIn, ReadingOutcome, list_readings, record_readings)
