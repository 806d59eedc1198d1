"""Identity: registration, login, token issue, refresh rotation with reuse detection, logout."""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import secrets
import uuid

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.exc import IntegrityError

from carbon_credits.config import get_settings
from carbon_credits.domain.errors import AuthenticationFailed, Conflict, PermissionDenied
from carbon_credits.services import passwords
from carbon_credits.services.audit import record_audit
from carbon_credits.services.duties import refuse_conflicting_roles
from carbon_credits.services.uow import unit_of_work
from models import RefreshToken, RevokedAccessToken, User, UserRole, db, utcnow

log = logging.getLogger(__name__)

ALGORITHM = "HS256"  # pinned: never taken from the token header
LEEWAY_SECONDS = 10
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti", "typ"]


@dataclasses.dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def register_user(*, email: str | None, phone: str | None, password: str, display_name: str,
                  roles: tuple[str, ...] = ("citizen",), partner_id: uuid.UUID | None = None,
                  actor_user_id: uuid.UUID | None = None) -> User:
    """Create a user; an email or phone already taken is a 409 without revealing whose. Roles
    are given directly (the command line bootstraps the first admins and auditors), but never
    admin and auditor together (422 `conflicting_roles`)."""
    refuse_conflicting_roles(roles)
    with unit_of_work():
        user = User(email=normalise_email(email) if email else None, phone=phone,
                    display_name=display_name, password_hash=passwords.hash_password(password),
                    partner_id=partner_id)
        user.roles = [UserRole(role=r) for r in sorted(set(roles))]
        db.session.add(user)
        try:
            db.session.flush()
        except IntegrityError:
            raise Conflict("An account with this email or phone already exists.",
                           code="identifier_taken") from None
        record_audit(action="user.register", object_type="user", object_id=user.id,
                     actor_user_id=actor_user_id or user.id, details={"roles": sorted(set(roles))})
    return user


def _find_by_identifier(identifier: str) -> User | None:
    identifier = identifier.strip()
    column = User.email if "@" in identifier else User.phone
    value = normalise_email(identifier) if "@" in identifier else identifier
    return db.session.scalars(select(User).where(column == value)).one_or_none()


def _encode(claims: dict) -> str:
    return jwt.encode(claims, get_settings().secret_key, algorithm=ALGORITHM)


def _issue_pair(user: User, family_id: str, now: dt.datetime) -> TokenPair:
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
    return TokenPair(access_token=access, refresh_token=refresh,
                     expires_in=settings.access_token_ttl_seconds)


def login(*, identifier: str, password: str) -> TokenPair:
    """Check credentials and issue a new token family. Suspended users cannot log in."""
    with unit_of_work():
        user = _find_by_identifier(identifier)
        if not passwords.verify_password(user.password_hash if user else None, password):
            raise AuthenticationFailed("Invalid credentials.", code="invalid_credentials")
        if user.is_suspended:
            raise PermissionDenied("This account is suspended.", code="account_suspended")
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        return _issue_pair(user, secrets.token_hex(16), utcnow())


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
                _revoke_family(row.family_id, now)
                record_audit(action="auth.refresh_reuse_detected", object_type="user",
                             object_id=row.user_id, actor_user_id=row.user_id,
                             details={"family_id": row.family_id})
                reused = True
            else:
                raise AuthenticationFailed("The refresh token is no longer valid.",
                                           code="invalid_token")
        else:
            user = db.session.get(User, uuid.UUID(claims["sub"]))
            if user is None or user.is_suspended:
                raise AuthenticationFailed("The refresh token is no longer valid.",
                                           code="invalid_token")
            pair = _issue_pair(user, claims["fam"], now)
    if reused:
        # Committed above on purpose: the revocation must stick although the request fails.
        raise AuthenticationFailed("Refresh token reuse detected; please log in again.",
                                   code="refresh_token_reused")
    return pair


def _revoke_family(family_id: str, now: dt.datetime) -> None:
    db.session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                                  RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=now))


def logout(*, claims: dict) -> None:
    """Revoke this access token (until it would expire) and its refresh family."""
    expires_at = dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc)
    now = utcnow()
    with unit_of_work():
        if db.session.get(RevokedAccessToken, claims["jti"]) is None:
            db.session.add(RevokedAccessToken(jti=claims["jti"], expires_at=expires_at))
        _revoke_family(claims["fam"], now)
        record_audit(action="auth.logout", object_type="user", object_id=claims["sub"],
                     actor_user_id=uuid.UUID(claims["sub"]))


def authenticate_access_token(token: str) -> tuple[User, dict]:
    """Decode a bearer token and load its user: revoked tokens and suspended users fail at once."""
    claims = decode_token(token, expected_type="access")
    try:
        user_id = uuid.UUID(claims["sub"])
    except ValueError:
        raise AuthenticationFailed("The token is invalid.", code="invalid_token") from None
    # One round trip: the user, their roles and whether this token was revoked. The database
    # is the authority for revocation (Redis may have been flushed), so asking it first costs
    # nothing extra and a Redis lookup would add a round trip without saving one.
    row = db.session.execute(
        select(User, select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == claims["jti"])
               .exists().label("revoked"))
        .where(User.id == user_id).options(joinedload(User.roles))
    ).unique().one_or_none()
    if row is None:
        raise AuthenticationFailed("The token is invalid.", code="invalid_token")
    user, revoked = row
    if revoked:
        raise AuthenticationFailed("The token has been revoked.", code="token_revoked")
    if user.is_suspended:
        raise AuthenticationFailed("This account is suspended.", code="account_suspended")
    return user, claims

