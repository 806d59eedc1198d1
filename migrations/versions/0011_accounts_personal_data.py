"""accounts and personal data: verified identifiers, sessions, one-time codes, throttle counters,
leaderboard visibility, erasure and the forfeiture account

Existing accounts are left unverified: nobody proved they receive mail or SMS at the address
they typed. They still log in; to bind cards or redeem they verify through a password reset
(the code proves control of the identifier) or by registering again with the same identifier.
Existing emails are normalised (NFKC, case-folded) and phone numbers rewritten to E.164 (default
region CN); where two accounts would collide, both are left as they were and an audit row
`user.identifier_not_normalised_by_migration` names them for an operator to resolve.
Each refresh-token family becomes a session row, so tokens issued before this revision keep
working until they expire or are revoked.

Revision ID: 0011
Revises: 0010
"""
import datetime as dt
import unicodedata
import uuid

from alembic import op
import phonenumbers
import sqlalchemy as sa

import models.base
from models.ddl import make_append_only

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_ACCOUNT_KINDS_OLD = "kind IN ('citizen', 'merchant', 'issuance', 'holds', 'expiry')"
_ACCOUNT_KINDS_NEW = "kind IN ('citizen', 'merchant', 'issuance', 'holds', 'expiry', 'forfeiture')"
_SYSTEM_OLD = "(system_code IS NOT NULL) = (kind IN ('issuance', 'holds', 'expiry'))"
_SYSTEM_NEW = "(system_code IS NOT NULL) = (kind IN ('issuance', 'holds', 'expiry', 'forfeiture'))"
_TRANSFER_KINDS_OLD = ("kind IN ('earn', 'reserve', 'release', 'redeem', 'expire', 'reversal', "
                       "'adjustment')")
_TRANSFER_KINDS_NEW = ("kind IN ('earn', 'reserve', 'release', 'redeem', 'expire', 'reversal', "
                       "'adjustment', 'forfeit')")


def _email(value):
    return unicodedata.normalize("NFKC", value).strip().casefold()


def _phone(value):
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", value), "CN")
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(number):
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _normalise_identifiers():
    bind = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Uuid()), sa.column('email', sa.String),
                     sa.column('phone', sa.String))
    audit = sa.table('audit_log', sa.column('actor_user_id', sa.Uuid()),
                     sa.column('action', sa.String), sa.column('object_type', sa.String),
                     sa.column('object_id', sa.String), sa.column('details', sa.JSON),
                     sa.column('created_at', models.base.UTCDateTime(timezone=True)))
    rows = bind.execute(sa.select(users.c.id, users.c.email, users.c.phone)).all()
    now = dt.datetime.now(dt.timezone.utc)
    for column, normalise in (("email", _email), ("phone", _phone)):
        wanted: dict[str, list] = {}
        current = {}
        for row in rows:
            value = getattr(row, column)
            if value is not None:
                current[row.id] = value
                wanted.setdefault(normalise(value), []).append(row.id)
        for value, ids in wanted.items():
            if len(ids) > 1:
                bind.execute(audit.insert(), [
                    {'actor_user_id': None, 'action': 'user.identifier_not_normalised_by_migration',
                     'object_type': 'user', 'object_id': str(user_id), 'created_at': now,
                     'details': {'migration': '0011', 'field': column,
                                 'collides_with': [str(i) for i in ids if i != user_id]}}
                    for user_id in ids])
                continue
            (user_id,) = ids
            if current[user_id] != value:
                bind.execute(users.update().where(users.c.id == user_id).values({column: value}))


def _sessions_from_refresh_families():
    bind = op.get_bind()
    tokens = sa.table('refresh_tokens', sa.column('family_id', sa.String),
                      sa.column('user_id', sa.Uuid()),
                      sa.column('issued_at', models.base.UTCDateTime(timezone=True)),
                      sa.column('expires_at', models.base.UTCDateTime(timezone=True)),
                      sa.column('revoked_at', models.base.UTCDateTime(timezone=True)))
    sessions = sa.table('auth_sessions', sa.column('id', sa.Uuid()),
                        sa.column('family_id', sa.String), sa.column('user_id', sa.Uuid()),
                        sa.column('created_at', models.base.UTCDateTime(timezone=True)),
                        sa.column('last_used_at', models.base.UTCDateTime(timezone=True)),
                        sa.column('expires_at', models.base.UTCDateTime(timezone=True)),
                        sa.column('revoked_at', models.base.UTCDateTime(timezone=True)),
                        sa.column('revoked_reason', sa.String))
    families = bind.execute(
        sa.select(tokens.c.family_id, sa.func.min(tokens.c.user_id.cast(sa.String)).label('user_id'),
                  sa.func.min(tokens.c.issued_at).label('created_at'),
                  sa.func.max(tokens.c.issued_at).label('last_used_at'),
                  sa.func.max(tokens.c.expires_at).label('expires_at'),
                  sa.func.count().label('tokens'),
                  sa.func.count(tokens.c.revoked_at).label('revoked'),
                  sa.func.max(tokens.c.revoked_at).label('revoked_at'))
        .group_by(tokens.c.family_id)).all()
    rows = []
    for f in families:
        revoked = f.revoked == f.tokens
        rows.append({'id': uuid.uuid4(), 'family_id': f.family_id, 'user_id': uuid.UUID(f.user_id),
                     'created_at': _aware(f.created_at), 'last_used_at': _aware(f.last_used_at),
                     'expires_at': _aware(f.expires_at),
                     'revoked_at': _aware(f.revoked_at) if revoked else None,
                     'revoked_reason': 'logout' if revoked else None})
    if rows:
        bind.execute(sessions.insert(), rows)


def _aware(value):
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def _restore_append_only_after_rebuild(table):
    """SQLite's batch mode rebuilds the table, dropping its triggers; PostgreSQL alters in place."""
    if op.get_bind().dialect.name == 'sqlite':
        make_append_only(table)


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('leaderboard_visibility', sa.String(length=16), server_default='named', nullable=False))
        batch_op.add_column(sa.Column('erased_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_users_has_identifier'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_users_has_identifier'), 'email IS NOT NULL OR phone IS NOT NULL OR erased_at IS NOT NULL')
        batch_op.create_check_constraint(batch_op.f('ck_users_known_leaderboard_visibility'), "leaderboard_visibility IN ('named', 'pseudonym', 'hidden')")
    _normalise_identifiers()

    op.create_table('auth_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('family_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=256), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    sa.UniqueConstraint('family_id', name=op.f('uq_auth_sessions_family_id'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_sessions_user_id'), ['user_id'], unique=False)
    _sessions_from_refresh_families()

    op.create_table('one_time_codes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('new_password_hash', sa.String(length=255), nullable=True),
    sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('verify', 'password_reset')", name=op.f('ck_one_time_codes_known_purpose')),
    sa.CheckConstraint('failed_attempts BETWEEN 0 AND 100', name=op.f('ck_one_time_codes_failed_attempts_range')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_one_time_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_codes'))
    )
    with op.batch_alter_table('one_time_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_one_time_codes_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index('ix_one_time_codes_user_purpose', ['user_id', 'purpose'], unique=False)

    op.create_table('throttle_counters',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_throttle_counters'))
    )
    with op.batch_alter_table('throttle_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_throttle_counters_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_accounts_known_kind'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_ledger_accounts_system_has_code'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_ledger_accounts_known_kind'), _ACCOUNT_KINDS_NEW)
        batch_op.create_check_constraint(batch_op.f('ck_ledger_accounts_system_has_code'), _SYSTEM_NEW)
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_transfers_known_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_ledger_transfers_known_kind'), _TRANSFER_KINDS_NEW)
    _restore_append_only_after_rebuild('ledger_transfers')


def downgrade():
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_transfers_known_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_ledger_transfers_known_kind'), _TRANSFER_KINDS_OLD)
    _restore_append_only_after_rebuild('ledger_transfers')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ledger_accounts_system_has_code'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_ledger_accounts_known_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_ledger_accounts_system_has_code'), _SYSTEM_OLD)
        batch_op.create_check_constraint(batch_op.f('ck_ledger_accounts_known_kind'), _ACCOUNT_KINDS_OLD)
    with op.batch_alter_table('throttle_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_throttle_counters_expires_at'))
    op.drop_table('throttle_counters')
    with op.batch_alter_table('one_time_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_one_time_codes_user_purpose')
        batch_op.drop_index(batch_op.f('ix_one_time_codes_expires_at'))
    op.drop_table('one_time_codes')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_auth_sessions_expires_at'))
    op.drop_table('auth_sessions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_known_leaderboard_visibility'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_users_has_identifier'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_users_has_identifier'), 'email IS NOT NULL OR phone IS NOT NULL')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('leaderboard_visibility')
        batch_op.drop_column('verified_at')
