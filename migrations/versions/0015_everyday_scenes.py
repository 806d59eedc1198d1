"""everyday scenes: the `everyday` action type, the `per_event` calculator family and the
`merchant_pos` partner kind

Only CHECK constraints change: each list of allowed values gains the new one, and the scope
checks of methodologies and partner scopes learn that `everyday` scopes are divided by scene
(stored in `mode`, as transit modes are). Every existing row satisfies the wider checks.

`models.ddl.replace_checks` changes them: in place on PostgreSQL (on the partitioned `actions`
the change reaches every partition); on SQLite by editing the stored CREATE TABLE, since a
rebuild would drop the tables' triggers.

Revision ID: 0015
Revises: 0014
"""
from models.ddl import replace_checks

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_TYPES_OLD = "action_type IN ('transit', 'ev_charging', 'waste_sorting')"
_TYPES_NEW = "action_type IN ('transit', 'ev_charging', 'waste_sorting', 'everyday')"
_TRANSIT = "mode IN ('metro', 'bus', 'bike', 'walk')"
_SCENES = "mode IN ('no_cutlery', 'own_bag', 'e_receipt', 'clothing_kiosk')"
_PLAIN = "action_type IN ('ev_charging', 'waste_sorting')"

# (table, constraint, the check before, the check after): the texts the models build
# (vocabulary.sql_in, vocabulary.scope_mode_check).
CHANGES = [
    ("partners", "ck_partners_known_kind",
     "kind IN ('merchant', 'transit_operator', 'charging_operator', 'recycling_operator', 'enterprise_buyer')",
     "kind IN ('merchant', 'transit_operator', 'charging_operator', 'recycling_operator', 'merchant_pos', 'enterprise_buyer')"),
    ("methodologies", "ck_methodologies_known_action_type", _TYPES_OLD, _TYPES_NEW),
    ("methodologies", "ck_methodologies_scope_mode",
     f"(action_type = 'transit' AND {_TRANSIT}) OR (action_type <> 'transit' AND mode IS NULL)",
     f"(action_type = 'transit' AND {_TRANSIT}) OR (action_type = 'everyday' AND {_SCENES}) "
     f"OR ({_PLAIN} AND mode IS NULL)"),
    ("methodology_versions", "ck_methodology_versions_known_family",
     "family IN ('transit_distance', 'transit_boarding', 'ev_charging', 'recyclables')",
     "family IN ('transit_distance', 'transit_boarding', 'ev_charging', 'recyclables', 'per_event')"),
    ("partner_scopes", "ck_partner_scopes_known_action_type", _TYPES_OLD, _TYPES_NEW),
    ("partner_scopes", "ck_partner_scopes_known_mode",
     f"mode IS NULL OR (action_type = 'transit' AND {_TRANSIT})",
     f"(action_type = 'transit' AND (mode IS NULL OR {_TRANSIT})) "
     f"OR (action_type = 'everyday' AND (mode IS NULL OR {_SCENES})) "
     f"OR ({_PLAIN} AND mode IS NULL)"),
    ("actions", "ck_actions_known_action_type", _TYPES_OLD, _TYPES_NEW),
]


def upgrade():
    replace_checks(CHANGES)


def downgrade():
    # Rows of the new kinds must go first: the narrower checks would refuse them.
    replace_checks([(table, name, new, old) for table, name, old, new in CHANGES])
