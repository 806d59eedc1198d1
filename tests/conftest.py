"""Test fixtures: one migrated database per session, reset after every test.

`DATABASE_URL` set (CI: a fresh PostgreSQL database) -> tests run there; unset -> a SQLite file.
`REDIS_URL` set -> the real Redis (its database is flushed between tests); unset -> the
in-process fallback. After every test the system invariants (ledger verify) must hold.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
import warnings

import pytest
from sqlalchemy import text


def _isolate_xdist_worker() -> None:
    """Under pytest-xdist (`-n 2`, what .ci/run uses) each worker gets a database and a Redis
    database of its own, so workers never truncate or flush each other's state: worker gwN
    uses PostgreSQL database `<name>_gwN` (created here, dropped when its session ends) and
    Redis database `<n> - N`. Set in the environment, so subprocesses the tests start inherit
    them. SQLite needs nothing: every session already has its own temporary file."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    index = int(worker.removeprefix("gw"))
    url = os.environ.get("DATABASE_URL") or ""
    if url.startswith(("postgres", "postgresql")):
        base, _, name = url.rpartition("/")
        own = f"{name}_{worker}"
        import psycopg
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{own}"')
        os.environ["DATABASE_URL"] = f"{base}/{own}"
        os.environ["CC_TEST_BASE_DATABASE_URL"] = url
    redis_url = os.environ.get("REDIS_URL") or ""
    if redis_url:
        prefix, _, db_number = redis_url.rpartition("/")
        number = int(db_number) if db_number.isdigit() else 0
        os.environ["REDIS_URL"] = f"{prefix}/{(number - index) % 16}"


_isolate_xdist_worker()
DATABASE_URL = os.environ.get("DATABASE_URL") or None
REDIS_URL = os.environ.get("REDIS_URL") or None
IS_POSTGRES = bool(DATABASE_URL and DATABASE_URL.startswith(("postgres", "postgresql")))
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (skipped on SQLite)")
    config.addinivalue_line("markers", "redis: needs a real Redis (skipped without REDIS_URL)")
    config.addinivalue_line("markers", "no_verify: the test breaks invariants on purpose")
    config.addinivalue_line("markers", "fuzz: schemathesis over the OpenAPI document (bounded)")


def pytest_sessionfinish(session, exitstatus):
    """An xdist worker drops the PostgreSQL database `_isolate_xdist_worker` made for it."""
    base = os.environ.get("CC_TEST_BASE_DATABASE_URL")
    if not base or not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    own = DATABASE_URL.rpartition("/")[2]
    with contextlib.suppress(Exception):  # the CI script drops leftovers too
        from models import db
        with contextlib.suppress(Exception):
            db.session.remove()
        import psycopg
        with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{own}" WITH (FORCE)')


def pytest_report_header(config):
    return [f"database: {'PostgreSQL' if IS_POSTGRES else 'SQLite'}; "
            f"redis: {'real' if REDIS_URL else 'in-process fallback'}"]


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (see .ci/run)")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL (see .ci/run)")
    for item in items:
        if "postgres" in item.keywords and not IS_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture(scope="session")
def _database():
    if IS_POSTGRES:
        yield {"url": DATABASE_URL, "template": None}
        return
    workdir = tempfile.mkdtemp(prefix="cc-test-")
    yield {"url": f"sqlite:///{workdir}/test.db", "template": f"{workdir}/template.db"}
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def app(_database):
    from flask_migrate import upgrade

    from api import create_app
    from models import db

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the no-Redis start-up warning
        application = create_app({
            "DATABASE_URL": _database["url"],
            "REDIS_URL": REDIS_URL or "",
            "SECRET_KEY": TEST_SECRET,
            "CARBON_ENV": "test",
            "TESTING": True,
        })
    with application.app_context():
        if IS_POSTGRES:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade(directory=application.extensions["migrate"].directory)
        db.session.remove()
        db.engine.dispose()
    if _database["template"]:
        shutil.copyfile(_database["url"][len("sqlite:///"):], _database["template"])
    application._test_database = _database
    yield application


def _reset_database(app):
    from models import db
    with app.app_context():
        db.session.remove()
        if IS_POSTGRES:
            tables = [t.name for t in db.metadata.sorted_tables]
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            db.engine.dispose()
            path = app._test_database["url"][len("sqlite:///"):]
            for suffix in ("-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            shutil.copyfile(app._test_database["template"], path)
        from carbon_credits.services.seed import reset_hooks
        for hook in reset_hooks():
            hook()


def _reset_redis(app):
    from carbon_credits import kvstore
    kvstore.get_store().flushdb()


@pytest.fixture(autouse=True)
def _clean_state(request, app):
    """Every test starts empty and must leave the system invariants intact."""
    yield
    from carbon_credits.services.verify import verify_all
    from models import db
    if "no_verify" not in request.keywords:
        with app.app_context():
            problems = verify_all()
            db.session.remove()
        assert problems == [], f"invariants broken after test: {problems}"
    _reset_database(app)
    _reset_redis(app)


@pytest.fixture
def steady_throttle_clock(monkeypatch):
    """Throttles count in fixed windows: a test that makes a dozen attempts against a per-minute
    limit would see the count restart if a window boundary fell between two of them. Pin the
    throttle's clock to the middle of the current minute so every attempt lands in one window."""
    import types

    from carbon_credits.services import throttle
    pinned = time.time() // 60 * 60 + 30
    monkeypatch.setattr(throttle, "time", types.SimpleNamespace(time=lambda: pinned))
    return pinned


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield
        from models import db
        db.session.remove()


class Actors:
    """Creates users and partners through the services and logs them in over HTTP."""

    def __init__(self, app, client):
        self.app = app
        self.client = client

    def user(self, *roles: str, email: str | None = None, partner_id=None,
             display_name: str | None = None, password: str = "correct horse battery",
             verified: bool = True):
        from carbon_credits.services import auth
        roles = roles or ("citizen",)
        email = email or f"{roles[0]}-{uuid.uuid4().hex[:10]}@example.test"
        with self.app.app_context():
            user = auth.register_user(email=email, phone=None, password=password,
                                      display_name=display_name or email.split("@")[0],
                                      roles=tuple(roles), partner_id=partner_id,
                                      verified=verified)
            user_id = user.id
            pair = auth.login(identifier=email, password=password)
        return User(id=user_id, email=email, password=password, access=pair.access_token,
                    refresh=pair.refresh_token)

    def one_of_each_role(self) -> dict[str, "User"]:
        """A citizen, an admin, an auditor and a merchant's staff member (made merchant by the
        admin, as the service requires), keyed by role."""
        from carbon_credits.services import users as user_service
        users = {role: self.user(role) for role in ("citizen", "admin", "auditor")}
        merchant_partner = self.partner("merchant")
        merchant = self.user("citizen")
        with self.app.app_context():
            user_service.set_roles(user_id=merchant.id, roles=["merchant"],
                                   partner_id=merchant_partner.id, actor_user_id=users["admin"].id)
        users["merchant"] = merchant
        return users

    def partner(self, kind: str = "transit_operator", name: str | None = None):
        from carbon_credits.services import partners
        with self.app.app_context():
            issued = partners.create_partner(name=name or f"{kind}-{uuid.uuid4().hex[:8]}",
                                             kind=kind, actor_user_id=None)
            return Partner(id=issued.partner.id, key_id=issued.partner.key_id,
                           secret=issued.secret, kind=kind)

    def bind(self, citizen: "User", partner: "Partner", external_ref: str, *,
             scopes: list[str] | None = None) -> str:
        """Bind a card as a citizen would: request it (pending, one-time code), then the
        operator's signed confirmation. Returns the binding id."""
        import json
        body = {"partner_id": str(partner.id), "external_ref": external_ref}
        if scopes is not None:
            body["scopes"] = scopes
        r = self.client.post("/api/v1/me/bindings", json=body, headers=citizen.headers)
        assert r.status_code == 201, r.get_json()
        raw = json.dumps({"external_ref": external_ref,
                          "confirmation_code": r.get_json()["confirmation_code"]}).encode()
        c = self.client.post("/api/v1/partner/bindings/confirm", data=raw, headers=partner.signed(raw))
        assert c.status_code == 200 and c.get_json()["status"] == "active", c.get_json()
        return r.get_json()["id"]


class User:
    def __init__(self, *, id, email, password, access, refresh):
        self.id, self.email, self.password = id, email, password
        self.access, self.refresh = access, refresh

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.access}"}


class Partner:
    def __init__(self, *, id, key_id, secret, kind):
        self.id, self.key_id, self.secret, self.kind = id, key_id, secret, kind

    def signed(self, body: bytes, *, timestamp: int | None = None) -> dict:
        """Headers for a signed request over `body` (the exact bytes sent)."""
        import time
        from carbon_credits.services.partners import sign
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {"X-Partner-Key": self.key_id, "X-Timestamp": ts,
                "X-Signature": sign(self.secret, ts, body), "Content-Type": "application/json"}


from tests.accounts_support import sent_messages  # noqa: E402,F401 (fixture: codes sent)


@pytest.fixture
def actors(app, client):
    return Actors(app, client)


def assert_problem(response, status: int, code: str | None = None):
    """The response is problem+json with this status (and type code), carrying a request id."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json()
    assert body["status"] == status and body["request_id"]
    if code:
        assert body["type"] == f"/problems/{code}", body
    return body


def table_counts(app, *models) -> dict:
    """Row counts per model, to assert that a refused request changed nothing."""
    from sqlalchemy import func, select
    from models import db
    with app.app_context():
        counts = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
                  for m in models}
        db.session.remove()
    return counts


def all_table_counts(app) -> dict:
    from sqlalchemy import func, select
    from models import db
    with app.app_context():
        counts = {t.name: db.session.scalar(select(func.count()).select_from(t))
                  for t in db.metadata.sorted_tables}
        db.session.remove()
    return counts


def redis_key_count() -> int:
    from carbon_credits import kvstore
    store = kvstore.get_store()
    if kvstore.is_redis():
        return sum(1 for k in store.scan_iter() if not k.startswith(b"cc-limits"))
    return len(store._values) + len(store._zsets)


@contextlib.contextmanager
def recorded_statements(app):
    """Collect the SQL statements run inside the block (transaction control left out), to
    assert a use case's round trips, or that a list costs the same for 1 row and for 20."""
    from sqlalchemy import event
    from models import db
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE",
                                                       "ROLLBACK")):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
