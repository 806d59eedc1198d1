"""hot path: the catalogue revision token (methodology versions cached per process), a ledger
account for every citizen, idempotency records that reference the response instead of storing it

`catalogue_revision` holds one row whose token a trigger renews on every insert, update or
delete of `methodologies` and `methodology_versions` (and on truncation, on PostgreSQL). The
credit path reads the token and keeps its cached versions while it is unchanged.

Ledger accounts used to be created lazily on a citizen's first credit; from now on they are
created with the citizen, and this revision opens one for every citizen who has none.

Revision ID: 0012
Revises: 0011
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

CATALOGUE_TABLES = ("methodologies", "methodology_versions")


def upgrade():
    with op.batch_alter_table('idempotency_keys') as batch_op:
        batch_op.add_column(sa.Column('response_ref', sa.JSON(), nullable=True))
    op.create_table('catalogue_revision',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('token', sa.String(length=36), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_revision')))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION renew_catalogue_revision() RETURNS trigger AS $$
            BEGIN
                INSERT INTO catalogue_revision (id, token) VALUES (1, gen_random_uuid()::text)
                ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
        """)
        for table in CATALOGUE_TABLES:
            op.execute(f"CREATE TRIGGER {table}_renew_catalogue AFTER INSERT OR UPDATE OR DELETE "
                       f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION renew_catalogue_revision()")
        op.execute("INSERT INTO catalogue_revision (id, token) VALUES (1, gen_random_uuid()::text)")
    else:
        renew = ("INSERT INTO catalogue_revision (id, token) VALUES (1, lower(hex(randomblob(16)))) "
                 "ON CONFLICT (id) DO UPDATE SET token = excluded.token;")
        for table in CATALOGUE_TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_renew_catalogue_{event.lower()} AFTER {event} "
                           f"ON {table} BEGIN {renew} END")
        op.execute(renew)
    now = dt.datetime.now(dt.timezone.utc)
    accounts = sa.table("ledger_accounts", sa.column("kind"), sa.column("user_id"),
                        sa.column("balance"), sa.column("reserved"),
                        sa.column("created_at", sa.DateTime(timezone=True)))
    missing = bind.execute(sa.text(
        "SELECT DISTINCT r.user_id FROM user_roles r LEFT JOIN ledger_accounts a "
        "ON a.user_id = r.user_id WHERE r.role = 'citizen' AND a.id IS NULL")).scalars().all()
    if missing:
        op.bulk_insert(accounts, [{"kind": "citizen", "user_id": uid, "balance": 0, "reserved": 0,
                                   "created_at": now if bind.dialect.name == "postgresql"
                                   else now.replace(tzinfo=None)} for uid in missing])


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in CATALOGUE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_renew_catalogue ON {table}")
        op.execute("DROP FUNCTION IF EXISTS renew_catalogue_revision()")
    else:
        for table in CATALOGUE_TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_renew_catalogue_{event}")
    op.drop_table('catalogue_revision')
    with op.batch_alter_table('idempotency_keys') as batch_op:
        batch_op.drop_column('response_ref')
