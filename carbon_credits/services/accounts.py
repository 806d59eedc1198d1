"""Citizen accounts: registration with verification by one-time code, password change and
reset, and the list of one's sessions (docs/accounts.md).

Registration never tells whether an identifier is known: the same 202 and the same work (one
password hash, one message) whether the account is new (a code), verified (a notice to the
owner) or unverified (a fresh code carrying the new registrant's password, which takes effect
only when that code is used: whoever registered first with someone else's address cannot keep
the account).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import secrets
import unicodedata
import uuid

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from carbon_credits.config import get_settings
from carbon_credits.domain.errors import NotFound, PermissionDenied, ValidationFailed
from carbon_credits.domain.identifiers import (InvalidIdentifier, identifier_kind,
                                               normalise_email, normalise_identifier,
                                               normalise_phone)
from carbon_credits.services import ledger, notifier, passwords, throttle
from carbon_credits.services.audit import record_audit
from carbon_credits.services.auth import Client, find_user, revoke_family
from carbon_credits.services.keys import keyed_hash
from carbon_credits.services.notifier import Message
from carbon_credits.services.sessions import revoke_user_sessions
from carbon_credits.services.uow import after_commit, unit_of_work
from models import AuthSession, OneTimeCode, User, UserRole, db, utcnow

CODE_DIGITS = 8
MAX_CODE_ATTEMPTS = 5
SERVICE_NAME = "Carbon credits"


def _invalid_code() -> ValidationFailed:
    return ValidationFailed("The code is wrong or has expired.", code="invalid_code",
                            errors={"code": ["The code is wrong or has expired."]})


def _new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def _code_hash(code_id: uuid.UUID, code: str) -> str:
    return keyed_hash("one-time-codes", f"{code_id}:{code}")


def _issue_code(user: User, purpose: str, now: dt.datetime, *,
                new_password_hash: str | None = None) -> str:
    """A fresh code for `purpose`. Older unused ones of the same purpose stop working, except
    the codes of other registrations of an unverified account: each of those works only with
    its own registration's password, so no registrant can spoil another's code."""
    stale = [OneTimeCode.user_id == user.id, OneTimeCode.purpose == purpose,
             OneTimeCode.used_at.is_(None)]
    if new_password_hash is not None:
        stale.append(OneTimeCode.new_password_hash.is_(None))
    db.session.execute(delete(OneTimeCode).where(*stale))
    code, code_id = _new_code(), uuid.uuid4()
    ttl = dt.timedelta(minutes=get_settings().one_time_code_ttl_minutes)
    db.session.add(OneTimeCode(id=code_id, user_id=user.id, purpose=purpose,
                               code_hash=_code_hash(code_id, code), created_at=now,
                               expires_at=now + ttl, failed_attempts=0,
                               new_password_hash=new_password_hash))
    return code


def _message(kind: str, to: str, code: str | None = None) -> Message:
    minutes = get_settings().one_time_code_ttl_minutes
    texts = {
        "verify": (f"{SERVICE_NAME}: your verification code",
                   f"Your {SERVICE_NAME} verification code is {code}. It is valid for {minutes} "
                   "minutes. If you did not just register, ignore this message."),
        "password_reset": (f"{SERVICE_NAME}: your password reset code",
                           f"Your {SERVICE_NAME} password reset code is {code}. It is valid for "
                           f"{minutes} minutes. If you did not ask for it, ignore this message: "
                           "your password stays as it is."),
        "register_notice": (f"{SERVICE_NAME}: someone tried to register with your address",
                            "Someone tried to register an account with your address, which "
                            "already has one. If it was you, log in, or reset your password if "
                            "you forgot it. If it was not you, nothing has changed."),
    }
    subject, body = texts[kind]
    return Message(channel=notifier.channel_for(to), to=to, subject=subject, body=body,
                   kind=kind, code=code)


def _send_after_commit(message: Message) -> None:
    after_commit(lambda: notifier.deliver(message))


def _lenient_identifier(identifier: str) -> tuple[str, str]:
    """For verify and reset-confirm: text that cannot be an identifier is simply unknown."""
    try:
        return normalise_identifier(identifier)
    except InvalidIdentifier:
        return identifier_kind(identifier), identifier.strip().casefold()[:254]


def _new_citizen(kind: str, value: str, password_hash: str, display_name: str) -> User | None:
    user = User(id=uuid.uuid4(), display_name=display_name, password_hash=password_hash,
                **{kind: value})
    user.roles = [UserRole(role="citizen")]
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError:  # registered concurrently: treat as existing
        return None
    return user


def register_citizen(*, email: str | None, phone: str | None, password: str, display_name: str,
                     client: Client | None = None) -> None:
    """Register a citizen, or tell the owner of a known identifier; the caller learns nothing."""
    client = client or Client()
    if email and phone:
        raise ValidationFailed("Give an email or a phone number, not both.",
                               errors={"phone": ["Give an email or a phone number, not both."]})
    kind, value = (("email", normalise_email(email)) if email
                   else ("phone", normalise_phone(phone)))
    throttle.guard("register", address=client.address,
                   identifier_rules=(throttle.message_identifier_rule(value),))
    password_hash = passwords.hash_password(password)  # on every path: equal work
    now = utcnow()
    with unit_of_work():
        user = find_user(kind, value, lock=True)
        created = False
        if user is None:
            user = _new_citizen(kind, value, password_hash, display_name)
            created = user is not None
            if not created:
                user = find_user(kind, value, lock=True)
        if created:
            ledger.open_citizen_account(user.id)
            message = _message("verify", value, _issue_code(user, "verify", now))
            record_audit(action="user.register", object_type="user", object_id=user.id,
                         actor_user_id=user.id, details={"roles": ["citizen"], "verified": False})
        elif user.is_verified:
            message = _message("register_notice", value)
        else:
            message = _message("verify", value, _issue_code(user, "verify", now,
                                                            new_password_hash=password_hash))
            record_audit(action="user.register_again", object_type="user", object_id=user.id,
                         actor_user_id=None, details={"unverified": True})
        _send_after_commit(message)


def _live_codes(user: User, purpose: str, now: dt.datetime) -> list[OneTimeCode]:
    return db.session.scalars(
        select(OneTimeCode).where(OneTimeCode.user_id == user.id, OneTimeCode.purpose == purpose,
                                  OneTimeCode.used_at.is_(None), OneTimeCode.expires_at > now,
                                  OneTimeCode.failed_attempts < MAX_CODE_ATTEMPTS)
        .order_by(OneTimeCode.created_at.desc()).with_for_update()).all()


def _matching_code(codes: list[OneTimeCode], code: str) -> OneTimeCode | None:
    """The code `code` is, among the live ones; a miss counts a wrong try against each of them
    (so guessing kills them all after a few tries)."""
    given = unicodedata.normalize("NFKC", code).strip()
    for otc in codes:
        if hmac.compare_digest(otc.code_hash, _code_hash(otc.id, given)):
            return otc
    for otc in codes:
        otc.failed_attempts += 1
    return None


def _take_code(kind: str, value: str, purpose: str, code: str,
               now: dt.datetime) -> tuple[User, OneTimeCode] | None:
    """Inside a unit of work: the user and their live code if `code` matches (spending it);
    else None, counting a wrong try against the live codes (which die after a few)."""
    user = find_user(kind, value, lock=True)
    if user is None:
        return None
    otc = _matching_code(_live_codes(user, purpose, now), code)
    if otc is None:
        return None
    otc.used_at = now
    return user, otc


def _registration_password_matches(user: User, otc: OneTimeCode, password: str | None) -> bool:
    """A verify code works with the password of the registration that sent it. Without a
    password, only a code of the account's own first registration works (its password is the
    account's); a code sent by registering again always needs that registration's password, so
    the owner of an address cannot be made to activate someone else's password with it."""
    registration_hash = otc.new_password_hash or user.password_hash
    if password is None:
        return registration_hash == user.password_hash
    return passwords.verify_password(registration_hash, password)


def verify_identifier(*, identifier: str, code: str, password: str | None = None,
                      client: Client | None = None) -> None:
    """Prove control of the identifier with the code sent to it; the account becomes verified.
    A code from a later registration also sets that registration's password and ends every
    older session. Wrong, expired, spent code, a password not of the code's registration, or an
    unknown identifier: one generic 422."""
    client = client or Client()
    kind, value = _lenient_identifier(identifier)
    throttle.guard("verify", address=client.address,
                   identifier_rules=(throttle.code_identifier_rule("verify", value),))
    now = utcnow()
    verified = False
    with unit_of_work():
        user = find_user(kind, value, lock=True)
        otc = _matching_code(_live_codes(user, "verify", now), code) if user else None
        if otc is None:
            if password is not None:
                passwords.verify_password(None, password)  # the same work as a match
        elif not _registration_password_matches(user, otc, password):
            otc.failed_attempts += 1
        else:
            verified = True
            otc.used_at = now
            user.verified_at = user.verified_at or now
            replaced = otc.new_password_hash not in (None, user.password_hash)
            if replaced:
                user.password_hash = otc.new_password_hash
                revoke_user_sessions(user.id, reason="verified_elsewhere", now=now)
            db.session.execute(delete(OneTimeCode).where(OneTimeCode.user_id == user.id,
                                                         OneTimeCode.purpose == "verify",
                                                         OneTimeCode.used_at.is_(None)))
            record_audit(action="user.verified", object_type="user", object_id=user.id,
                         actor_user_id=user.id, details={"password_replaced": replaced})
    if not verified:  # raised after commit: the wrong try stays counted
        raise _invalid_code()


def request_password_reset(*, identifier: str, client: Client | None = None) -> None:
    """Send a reset code if the account exists; the answer is the same either way."""
    client = client or Client()
    kind, value = normalise_identifier(identifier)
    throttle.guard("password_reset", address=client.address,
                   identifier_rules=(throttle.message_identifier_rule(value),))
    now = utcnow()
    with unit_of_work():
        user = find_user(kind, value, lock=True)
        if user is not None and not user.is_erased:
            _send_after_commit(_message("password_reset", value,
                                        _issue_code(user, "password_reset", now)))


def confirm_password_reset(*, identifier: str, code: str, new_password: str,
                           client: Client | None = None) -> None:
    """Set a new password with a reset code. The code proves control of the identifier, so the
    account becomes verified; every session ends, and every other pending code dies."""
    client = client or Client()
    kind, value = _lenient_identifier(identifier)
    throttle.guard("password_reset_confirm", address=client.address,
                   identifier_rules=(throttle.code_identifier_rule("password_reset", value),))
    new_hash = passwords.hash_password(new_password)
    now = utcnow()
    with unit_of_work():
        taken = _take_code(kind, value, "password_reset", code, now)
        if taken is not None:
            user, _otc = taken
            user.password_hash = new_hash
            user.verified_at = user.verified_at or now
            db.session.execute(delete(OneTimeCode).where(OneTimeCode.user_id == user.id,
                                                         OneTimeCode.used_at.is_(None)))
            revoked = revoke_user_sessions(user.id, reason="password_reset", now=now)
            record_audit(action="user.password_reset", object_type="user", object_id=user.id,
                         actor_user_id=user.id, details={"sessions_revoked": revoked})
    if taken is None:
        raise _invalid_code()


def _current_session_id(user_id: uuid.UUID, family_id: str) -> uuid.UUID | None:
    return db.session.scalar(select(AuthSession.id).where(AuthSession.user_id == user_id,
                                                          AuthSession.family_id == family_id))


def change_password(*, user_id: uuid.UUID, family_id: str, current_password: str,
                    new_password: str) -> int:
    """Replace the password after re-entering it (403 `wrong_password`); every other session
    ends, this one stays. Returns how many sessions were revoked."""
    now = utcnow()
    rule = throttle.password_check_rule(user_id)
    with unit_of_work():
        throttle.check(rule, in_session=True)
        user = db.session.scalars(select(User).where(User.id == user_id).with_for_update()).one()
        wrong = not passwords.verify_password(user.password_hash, current_password)
        if wrong:
            throttle.hit(rule, in_session=True)  # committed with this unit of work
        else:
            user.password_hash = passwords.hash_password(new_password)
            revoked = revoke_user_sessions(user_id, reason="password_changed", now=now,
                                           keep_session_id=_current_session_id(user_id, family_id))
            record_audit(action="user.password_changed", object_type="user", object_id=user_id,
                         actor_user_id=user_id, details={"sessions_revoked": revoked})
    if wrong:
        raise PermissionDenied("The current password is wrong.", code="wrong_password")
    return revoked


@dataclasses.dataclass(frozen=True)
class SessionView:
    id: uuid.UUID
    created_at: dt.datetime
    last_used_at: dt.datetime
    expires_at: dt.datetime
    user_agent: str | None
    ip_address: str | None
    current: bool


def list_sessions(*, user_id: uuid.UUID, family_id: str) -> list[SessionView]:
    """The live sessions of a user, newest first, marking the one asking."""
    now = utcnow()
    rows = db.session.scalars(
        select(AuthSession).where(AuthSession.user_id == user_id,
                                  AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)
        .order_by(AuthSession.created_at.desc(), AuthSession.id)).all()
    return [SessionView(id=s.id, created_at=s.created_at, last_used_at=s.last_used_at,
                        expires_at=s.expires_at, user_agent=s.user_agent,
                        ip_address=s.ip_address, current=s.family_id == family_id)
            for s in rows]


def revoke_session(*, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """End one of one's own sessions (its refresh and access tokens); others' are not found."""
    with unit_of_work():
        session = db.session.scalars(select(AuthSession).where(
            AuthSession.id == session_id, AuthSession.user_id == user_id)
            .with_for_update()).one_or_none()
        if session is None:
            raise NotFound("Session not found.")
        if session.revoked_at is None:
            revoke_family(session.family_id, utcnow(), reason="revoked_by_user")
            record_audit(action="auth.session_revoked", object_type="user", object_id=user_id,
                         actor_user_id=user_id, details={"session_id": str(session_id)})


def require_verified(user_id: uuid.UUID) -> None:
    """Binding cards and redeeming need a verified identifier (403 `account_unverified`)."""
    if db.session.scalar(select(User.verified_at).where(User.id == user_id)) is None:
        raise PermissionDenied("Verify your email address or phone number first "
                               "(POST /api/v1/auth/verify, or a password reset).",
                               code="account_unverified")
