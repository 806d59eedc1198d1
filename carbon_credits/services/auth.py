"""Identity: registration, login, token issue, refresh rotation with reuse detection, logout."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import uuid
from typing import Callable, TypeVar

import jwt
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from carbon_credits.config import get_settings
from carbon_credits.domain.errors import AuthenticationFailed, Conflict, PermissionDenied
from carbon_credits.domain.roles import AccountState
from carbon_credits.domain.identifiers import (InvalidIdentifier, identifier_kind, normalise_email,
                                               normalise_identifier, normalise_phone)
from carbon_credits.services import ledger, passwords, throttle
from carbon_credits.services.audit import record_audit
from carbon_credits.services.duties import refuse_conflicting_roles
from carbon_credits.services.statements import Pending, Statement, defer
from carbon_credits.services.uow import unit_of_work
from models import AuthSession, RefreshToken, RevokedAccessToken, User, UserRole, db, utcnow

log = logging.getLogger(__name__)

ALGORITHM = "HS256"  # pinned: never taken from the token header
LEEWAY_SECONDS = 10
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti", "typ"]
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


@dataclasses.dataclass(frozen=True)
class Client:
    """Who is calling, as far as the service needs to know: for throttles and the session list.
    `address` is the peer address (X-Forwarded-For is not trusted: no proxy fix is installed)."""

    address: str | None = None
    user_agent: str | None = None


def register_user(*, email: str | None, phone: str | None, password: str, display_name: str,
                  roles: tuple[str, ...] = ("citizen",), partner_id: uuid.UUID | None = None,
                  actor_user_id: uuid.UUID | None = None, verified: bool = False) -> User:
    """Create a user directly (the command line, tests); an email or phone already taken is a
    409. Roles are given directly (the command line bootstraps the first admins, auditors and
    verifiers), but never two of admin, auditor and verifier (422 `conflicting_roles`). Citizens
    registering over HTTP go through `accounts.register_citizen` instead (202, verification by
    code)."""
    refuse_conflicting_roles(roles)
    email = normalise_email(email) if email else None
    phone = normalise_phone(phone) if phone else None
    with unit_of_work():
        user = User(email=email, phone=phone,
                    display_name=display_name, password_hash=passwords.hash_password(password),
                    partner_id=partner_id, verified_at=utcnow() if verified else None)
        user.roles = [UserRole(role=r) for r in sorted(set(roles))]
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:
            raise Conflict("An account with this email or phone already exists.",
                           code="identifier_taken") from None
        if "citizen" in roles:
            ledger.open_citizen_account(user.id)
        record_audit(action="user.register", object_type="user", object_id=user.id,
                     actor_user_id=actor_user_id or user.id, details={"roles": sorted(set(roles))})
    return user


def find_user(kind: str, value: str, *, lock: bool = False) -> User | None:
    """The user holding a normalised identifier (`kind` 'email' or 'phone')."""
    column = User.email if kind == "email" else User.phone
    query = select(User).where(column == value)
    return db.session.scalars(query.with_for_update() if lock else query).one_or_none()


def _encode(claims: dict) -> str:
    return jwt.encode(claims, get_settings().secret_key, algorithm=ALGORITHM)


def _issue_pair(user: User, family_id: str, now: dt.datetime, *,
                client: Client | None = None) -> TokenPair:
    settings = get_settings()
    access_jti = secrets.token_hex(16)
    refresh_jti = secrets.token_hex(16)
    base = {"sub": str(user.id), "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
            "iat": int(now.timestamp()), "fam": family_id}
    access = _encode({**base, "jti": access_jti, "typ": "access",
                      "role": sorted(user.role_names)[0] if user.role_names else None,
                      "roles": sorted(user.role_names),
                      "exp": int(now.timestamp()) + settings.access_token_ttl_seconds})
    refresh_exp = now + dt.timedelta(seconds=settings.refresh_token_ttl_seconds)
    refresh = _encode({**base, "jti": refresh_jti, "typ": "refresh",
                       "exp": int(refresh_exp.timestamp())})
    db.session.add(RefreshToken(jti=refresh_jti, family_id=family_id, user_id=user.id,
                                issued_at=now, expires_at=refresh_exp))
    if client is not None:  # a new login: a new session
        db.session.add(AuthSession(family_id=family_id, user_id=user.id, created_at=now,
                                   last_used_at=now, expires_at=refresh_exp,
                                   user_agent=(client.user_agent or "")[:256] or None,
                                   ip_address=(client.address or "")[:64] or None))
    else:  # a rotation: the session lives on
        db.session.execute(update(AuthSession).where(AuthSession.family_id == family_id)
                           .values(last_used_at=now, expires_at=refresh_exp))
    return TokenPair(access_token=access, refresh_token=refresh,
                     expires_in=settings.access_token_ttl_seconds)


def login(*, identifier: str, password: str, client: Client | None = None) -> TokenPair:
    """Check credentials and open a session (a new token family). Unknown identifier, wrong
    password, unverified or not: the same 401 after the same work (exactly one argon2 verify).
    Suspended users cannot log in. Throttled per address, per identifier and globally."""
    client = client or Client()
    return login_with(identifier=identifier, password=password, client=client,
                      open_session=lambda user: _issue_pair(user, secrets.token_hex(16), utcnow(),
                                                            client=client))


def login_with(*, identifier: str, password: str, client: Client,
               open_session: Callable[[User], T]) -> T:
    """The credential check every sign-in shares (the API's tokens, the console's cookie):
    throttles, one argon2 verify whoever asks, suspension, rehash. `open_session(user)` runs in
    the same unit of work once the password is right; what it raises rolls everything back."""
    try:
        kind, value = normalise_identifier(identifier)
    except InvalidIdentifier:  # cannot be anyone's identifier: an unknown one, same answer
        kind, value = identifier_kind(identifier), identifier.strip().casefold()[:254]
    throttle.check(throttle.failed_login_rule())
    throttle.guard("login", address=client.address,
                   identifier_rules=(throttle.login_identifier_rule(value),))
    try:
        with unit_of_work():
            user = find_user(kind, value)
            if not passwords.verify_password(user.password_hash if user else None, password):
                raise AuthenticationFailed("Invalid credentials.", code="invalid_credentials")
            if user.is_suspended:
                raise PermissionDenied("This account is suspended.", code="account_suspended")
            if passwords.needs_rehash(user.password_hash):
                user.password_hash = passwords.hash_password(password)
            return open_session(user)
    except AuthenticationFailed:
        # Rolled back already; the count is its own transaction, so it sticks.
        throttle.hit(throttle.failed_login_rule())
        raise


def decode_token(token: str, *, expected_type: str) -> dict:
    settings = get_settings()
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[ALGORITHM],
                            audience=settings.jwt_audience, issuer=settings.jwt_issuer,
                            leeway=LEEWAY_SECONDS, options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("The token has expired.", code="token_expired") from None
    except jwt.PyJWTError:
        raise AuthenticationFailed("The token is invalid.", code="invalid_token") from None
    if claims.get("typ") != expected_type:
        raise AuthenticationFailed("The token is invalid.", code="invalid_token")
    return claims


def refresh(*, refresh_token: str) -> TokenPair:
    """Rotate: the presented refresh token is spent; presenting it again revokes the family."""
    claims = decode_token(refresh_token, expected_type="refresh")
    now = utcnow()
    reused = False
    with unit_of_work():
        # Conditional update: of two concurrent refreshes with one token, exactly one wins.
        spent = db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.jti == claims["jti"], RefreshToken.used_at.is_(None),
                   RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
            .values(used_at=now)
        ).rowcount
        if spent != 1:
            row = db.session.get(RefreshToken, claims["jti"])
            if row is not None and row.used_at is not None and row.revoked_at is None:
                revoke_family(row.family_id, now, reason="refresh_reuse")
                record_audit(action="auth.refresh_reuse_detected", object_type="user",
                             object_id=row.user_id, actor_user_id=row.user_id,
                             details={"family_id": row.family_id})
                reused = True
            else:
                raise AuthenticationFailed("The refresh token is no longer valid.",
                                           code="invalid_token")
        else:
            user = db.session.get(User, uuid.UUID(claims["sub"]))
            if user is None or user.is_suspended or user.is_erased:
                raise AuthenticationFailed("The refresh token is no longer valid.",
                                           code="invalid_token")
            pair = _issue_pair(user, claims["fam"], now)
    if reused:
        # Committed above on purpose: the revocation must stick although the request fails.
        raise AuthenticationFailed("Refresh token reuse detected; please log in again.",
                                   code="refresh_token_reused")
    return pair


def revoke_family(family_id: str, now: dt.datetime, *, reason: str) -> None:
    """Revoke one session: its refresh tokens, and (claim `fam`) its access tokens at once."""
    db.session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                                  RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=now))
    db.session.execute(update(AuthSession).where(AuthSession.family_id == family_id,
                                                 AuthSession.revoked_at.is_(None))
                       .values(revoked_at=now, revoked_reason=reason))


def logout(*, claims: dict) -> None:
    """Revoke this access token (until it would expire) and its refresh family."""
    expires_at = dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc)
    now = utcnow()
    with unit_of_work():
        if db.session.get(RevokedAccessToken, claims["jti"]) is None:
            db.session.add(RevokedAccessToken(jti=claims["jti"], expires_at=expires_at))
        revoke_family(claims["fam"], now, reason="logout")
        record_audit(action="auth.logout", object_type="user", object_id=claims["sub"],
                     actor_user_id=uuid.UUID(claims["sub"]))


@dataclasses.dataclass(frozen=True)
class AuthenticatedUser(AccountState):
    """The caller of a request, as one Core query finds them: the user's columns (no password
    hash) and role names. A plain value, not an ORM object: services that change the user load
    it themselves."""

    id: uuid.UUID
    email: str | None
    phone: str | None
    display_name: str
    partner_id: uuid.UUID | None
    suspended_at: dt.datetime | None
    created_at: dt.datetime
    verified_at: dt.datetime | None
    leaderboard_visibility: str
    erased_at: dt.datetime | None
    region: str | None
    region_since: dt.datetime | None
    role_names: frozenset[str]
    # The district an admin or auditor is scoped to (None: city-wide), docs/roles.md.
    staff_region: str | None = None


_USERS, _ROLES = User.__table__, UserRole.__table__
_USER_COLUMNS = tuple(f.name for f in dataclasses.fields(AuthenticatedUser)
                      if f.name not in ("role_names", "staff_region"))
# The user, one row per role, whether this token was revoked and whether its session lives:
# one statement, built once. The database is the authority for revocation (Redis may have been
# flushed), so asking it here costs nothing extra.
_AUTHENTICATE = Statement(
    select(*(_USERS.c[name] for name in _USER_COLUMNS), _ROLES.c.role,
           _ROLES.c.region.label("role_region"),
           select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == bindparam("jti"))
           .exists().label("revoked"),
           select(AuthSession.id).where(AuthSession.family_id == bindparam("fam"),
                                        AuthSession.user_id == bindparam("user_id"),
                                        AuthSession.revoked_at.is_(None))
           .exists().label("session_live"))
    .select_from(_USERS.outerjoin(_ROLES, _ROLES.c.user_id == _USERS.c.id))
    .where(_USERS.c.id == bindparam("user_id")), name="authenticate")


@dataclasses.dataclass
class Authentication:
    """A bearer token decoded, its database check deferred: it goes out with the request's
    first group of statements (the Idempotency-Key claim rides along), and `user()` has the
    answer. A token that fails the check raises there, before anything else of the request
    runs on its rows."""

    claims: dict
    user_id: uuid.UUID
    pending: Pending = dataclasses.field(repr=False)
    _user: AuthenticatedUser | None = None

    def user(self) -> AuthenticatedUser:
        self.pending.result()
        return self._user

    def check(self, rows) -> None:
        if not rows:
            raise AuthenticationFailed("The token is invalid.", code="invalid_token")
        first = rows[0]
        user = AuthenticatedUser(**{name: getattr(first, name) for name in _USER_COLUMNS},
                                 role_names=frozenset(r.role for r in rows if r.role is not None),
                                 staff_region=next((r.role_region for r in rows if r.role_region),
                                                   None))
        if user.is_suspended:
            raise AuthenticationFailed("This account is suspended.", code="account_suspended")
        if first.revoked or not first.session_live or user.is_erased:
            raise AuthenticationFailed("The token has been revoked.", code="token_revoked")
        self._user = user


def begin_authentication(token: str) -> Authentication:
    """Decode a bearer token (a bad one fails at once) and defer the check of its user:
    revoked tokens, revoked or missing sessions, suspended and erased users fail."""
    claims = decode_token(token, expected_type="access")
    try:
        user_id = uuid.UUID(claims["sub"])
    except ValueError:
        raise AuthenticationFailed("The token is invalid.", code="invalid_token") from None
    params = {"jti": claims["jti"], "fam": str(claims.get("fam")), "user_id": user_id}
    authentication = Authentication(claims=claims, user_id=user_id, pending=None)
    authentication.pending = defer(_AUTHENTICATE, params, check=authentication.check)
    return authentication


def authenticate_access_token(token: str) -> tuple[AuthenticatedUser, dict]:
    """Decode a bearer token and find its user (see `begin_authentication`), now."""
    authentication = begin_authentication(token)
    return authentication.user(), authentication.claims


def session_user(*, family_id: str, user_id: uuid.UUID) -> AuthenticatedUser:
    """The user of a live session that carries no token (the console's cookie): the same check
    as a bearer token's, so suspended, erased and revoked fail the same way."""
    params = {"jti": "", "fam": family_id, "user_id": user_id}
    authentication = Authentication(claims={}, user_id=user_id, pending=None)
    authentication.pending = defer(_AUTHENTICATE, params, check=authentication.check)
    return authentication.user()
