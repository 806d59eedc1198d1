"""The composition root: `create_app` wires settings, extensions, hooks and blueprints."""
from __future__ import annotations

import logging
import re
import uuid
import warnings

from flask import Flask, g, request
from sqlalchemy import event

from carbon_credits import config as config_module
from carbon_credits import kvstore
from carbon_credits.context import current_request_id
from carbon_credits.services import keys, passwords, replica
from models import db

log = logging.getLogger("carbon_credits")

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_warned_no_redis = False


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` overrides environment variables (tests pass DATABASE_URL etc.)."""
    import os

    env = dict(os.environ)
    flask_overrides = {}
    for key, value in (config or {}).items():
        if key.isupper() and key in ENV_KEYS:
            env[key] = value
        else:
            flask_overrides[key] = value
    settings = config_module.load_settings(env)
    config_module.set_settings(settings)

    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR), instance_relative_config=False)
    app.config.update(settings.as_flask_config())
    # The read replica, when configured, is a second engine (services/replica.py uses it).
    app.config["SQLALCHEMY_BINDS"] = replica.bind_config(settings)
    app.config.update(
        MAX_CONTENT_LENGTH=1024 * 1024,
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        API_TITLE="carbon_credits",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="v1/openapi.json",
        # Swagger UI (/api/docs) and ReDoc (/api/docs/redoc) are served by api/docs_assets.py
        # from a pinned package, not by flask-smorest from a CDN.
        JSON_SORT_KEYS=False,
        # The console's session cookie (api/console/session.py); the JSON API never sets it.
        SESSION_COOKIE_NAME="cc_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.console_cookie_secure,
        PERMANENT_SESSION_LIFETIME=settings.console_session_hours * 3600,
        WTF_CSRF_TIME_LIMIT=settings.console_session_hours * 3600,
    )
    app.config.update(flask_overrides)

    kvstore.configure(settings.redis_url)
    keys.configure(settings.secret_key)
    passwords.configure(fast=settings.environment == "test")
    _warn_once_without_redis(settings)

    from api.extensions import api, migrate
    from api.errors import register_error_handlers

    db.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.PROJECT_ROOT / "migrations"),
                     render_as_batch=True, compare_type=True)
    api.init_app(app)
    from api import reconnect
    reconnect.install(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for name, header in (("partnerKey", "X-Partner-Key"), ("partnerTimestamp", "X-Timestamp"),
                         ("partnerSignature", "X-Signature")):
        api.spec.components.security_scheme(name, {"type": "apiKey", "in": "header", "name": header})
    register_error_handlers(app)
    from api import i18n
    i18n.init_app(app)  # Accept-Language -> en | zh-CN (docs/localisation.md)
    _register_hooks(app)
    from api import claim_union, openapi_headers
    openapi_headers.install(app, api.spec)
    _register_blueprints(app, api)
    claim_union.register_components(api.spec)

    with app.app_context():
        _configure_engine(db.engine)

    from api.cli import register_cli
    register_cli(app)
    return app


# The keys of `create_app(config)` read as environment variables: config.py names them once.
ENV_KEYS = config_module.ENV_NAMES


def _warn_once_without_redis(settings) -> None:
    global _warned_no_redis
    if settings.redis_url is None and not _warned_no_redis:
        _warned_no_redis = True
        warnings.warn("REDIS_URL is not set: rate limits, replay cache and leaderboards use "
                      "in-process fallbacks (fine for one process, not for a cluster)",
                      RuntimeWarning, stacklevel=3)


def _configure_engine(engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions break savepoints).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take the lock up front: no read-then-upgrade deadlocks between workers. A
        # read-only snapshot (the personal-data export) must not hold the write lock while it
        # streams, so it begins deferred (WAL gives it one consistent view).
        if conn.get_execution_options().get("read_snapshot"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _register_hooks(app: Flask) -> None:
    from api.auth import enforce_declared_access
    from api.jsonbody import guard_request_body
    from api.logs import configure_logging
    from api.metrics import init_metrics

    @app.before_request
    def _request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.request_id_token = current_request_id.set(g.request_id)

    configure_logging(app)
    from api import hardening
    hardening.install(app)
    app.before_request(hardening.guard_request_line)
    app.before_request(hardening.guard_request_headers)
    app.before_request(guard_request_body)
    app.before_request(enforce_declared_access)
    app.before_request(hardening.refuse_unknown_query_params)
    init_metrics(app)
    from api.edge import init_edge
    init_edge(app, config_module.get_settings())

    @app.after_request
    def _echo_request_id(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.teardown_request
    def _reset_request_id(_exc):
        token = g.pop("request_id_token", None)
        if token is not None:
            current_request_id.reset(token)


def _register_blueprints(app: Flask, api) -> None:
    from api.resources import BLUEPRINTS
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    # HTML, outside the OpenAPI document: the public page and the console (docs/console.md).
    from api import console, docs_assets, site
    app.register_blueprint(docs_assets.blueprint)
    app.register_blueprint(site.blueprint)
    app.register_blueprint(console.blueprint)
