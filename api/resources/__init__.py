"""One module per resource; each exposes `blp`. Order here is the order in the API docs."""
from api.resources import health, identity, me, admin_users, partners
from api.resources import notifications
from api.resources import actions
from api.resources import ledger
from api.resources import methodologies
from api.resources import rewards
from api.resources import merchant_staff
from api.resources import insights, reports
from api.resources import certificates
from api.resources import events
from api.resources import account
from api.resources import regions
from api.resources import households
from api.resources import donations
from api.resources import public
from api.resources import proofs, public_certificates
from api.resources import webhooks
from api.resources import engagement

BLUEPRINTS = [
    health.blp,
    identity.blp,
    me.blp,
    notifications.blp,
    account.blp,
    admin_users.blp,
    partners.blp,
    webhooks.blp,
    regions.blp,
    methodologies.blp,
    ledger.blp,
    actions.blp,
    households.blp,
    rewards.blp,
    merchant_staff.blp,
    insights.blp,
    engagement.blp,
    reports.blp,
    certificates.blp,
    events.blp,
    donations.blp,
    public.blp,
    proofs.blp,
    public_certificates.blp,
]
