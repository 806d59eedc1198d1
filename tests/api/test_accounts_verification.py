"""Verified identifiers: register answers alike for new and known identifiers, codes verify,
unverified accounts neither bind nor redeem, and a late registrant takes an unverified account
back from whoever registered first with their address."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from carbon_credits import config
from carbon_credits.services import passwords
from models import AuthSession, OneTimeCode, User, db
from tests.conftest import all_table_counts, assert_problem, table_counts
from tests.rewards_support import REDEMPTIONS

REGISTER = "/api/v1/auth/register"
VERIFY = "/api/v1/auth/verify"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/me"
PASSWORD = "long enough pw"


def register(client, identifier="ana@example.test", password=PASSWORD, **extra):
    key = "email" if "@" in identifier else "phone"
    return client.post(REGISTER, json={key: identifier, "password": password,
                                       "display_name": "Ana", **extra})


def login(client, identifier="ana@example.test", password=PASSWORD):
    return client.post(LOGIN, json={"identifier": identifier, "password": password})


def bearer(tokens) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def user_row(app, **where) -> User | None:
    with app.app_context():
        (column, value), = where.items()
        user = db.session.scalars(select(User).where(getattr(User, column) == value)).one_or_none()
        db.session.expunge_all()
        db.session.remove()
        return user


def test_register_sends_a_code_and_verify_marks_the_account_verified(client, app, sent_messages):
    r = register(client)
    assert r.status_code == 202
    assert set(r.json) == {"status", "detail"} and r.json["status"] == "verification_sent"
    assert user_row(app, email="ana@example.test").verified_at is None
    code = sent_messages.last_code("ana@example.test", "verify")
    assert len(code) == 8 and code.isdigit()
    r = client.post(VERIFY, json={"identifier": "ANA@example.test", "code": code})
    assert r.status_code == 200 and r.json == {"status": "verified"}
    assert user_row(app, email="ana@example.test").verified_at is not None
    # Single use.
    assert_problem(client.post(VERIFY, json={"identifier": "ana@example.test", "code": code}),
                   422, "invalid_code")


def test_codes_are_stored_only_as_keyed_hashes(client, app, sent_messages):
    register(client)
    code = sent_messages.last_code("ana@example.test")
    with app.app_context():
        stored = db.session.scalars(select(OneTimeCode)).one()
        assert code not in stored.code_hash and len(stored.code_hash) == 64
        assert stored.expires_at - stored.created_at == dt.timedelta(minutes=15)
        db.session.remove()


def test_registering_a_known_identifier_answers_the_same_and_tells_the_owner(
        client, app, actors, sent_messages):
    owner = actors.user("citizen", email="owner@example.test")
    new = register(client, "newcomer@example.test")
    before = all_table_counts(app)
    known = register(client, "Owner@Example.test", password="attacker chosen pw")
    assert known.status_code == new.status_code == 202 and known.json == new.json
    assert table_counts(app, User) == {"users": before["users"]}
    notice, = sent_messages.to("owner@example.test")
    assert notice.kind == "register_notice" and notice.code is None
    assert "log in or reset your password" in notice.body.replace(",", "")
    # The owner's password is untouched.
    assert login(client, owner.email, owner.password).status_code == 200


def test_new_and_known_identifiers_cost_the_same_work(client, actors, sent_messages, monkeypatch):
    actors.user("citizen", email="owner@example.test")
    register(client, "pending@example.test")
    calls = []
    real = passwords.hash_password
    monkeypatch.setattr(passwords, "hash_password", lambda pw: calls.append(pw) or real(pw))
    for identifier in ("fresh@example.test", "owner@example.test", "pending@example.test"):
        calls.clear()
        sent_before = len(sent_messages.wait())
        assert register(client, identifier).status_code == 202
        assert len(calls) == 1, identifier
        assert len(sent_messages.wait()) == sent_before + 1, identifier


def test_wrong_expired_and_unknown_all_get_one_generic_422(client, app, sent_messages):
    register(client)
    code = sent_messages.last_code("ana@example.test")
    wrong = client.post(VERIFY, json={"identifier": "ana@example.test",
                                      "code": "1" if code != "1" * 8 else "2"})
    unknown = client.post(VERIFY, json={"identifier": "nobody@example.test", "code": code})
    garbage = client.post(VERIFY, json={"identifier": "not an identifier", "code": code})
    with app.app_context():
        db.session.execute(update(OneTimeCode).values(
            expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    expired = client.post(VERIFY, json={"identifier": "ana@example.test", "code": code})
    details = {assert_problem(r, 422, "invalid_code")["detail"]
               for r in (wrong, unknown, garbage, expired)}
    assert len(details) == 1


def test_a_code_dies_after_five_wrong_tries(client, app, sent_messages):
    register(client)
    code = sent_messages.last_code("ana@example.test")
    bad = "00000000" if code != "00000000" else "11111111"
    for _ in range(5):
        assert_problem(client.post(VERIFY, json={"identifier": "ana@example.test", "code": bad}),
                       422, "invalid_code")
    r = client.post(VERIFY, json={"identifier": "ana@example.test", "code": code})
    assert_problem(r, 422, "invalid_code")
    assert user_row(app, email="ana@example.test").verified_at is None


def test_registering_again_replaces_the_first_code_with_one_that_needs_its_password(
        client, app, sent_messages):
    register(client)
    first = sent_messages.last_code("ana@example.test")
    register(client)  # again, same person: a fresh code, bound to this registration's password
    second = sent_messages.last_code("ana@example.test")
    if first != second:  # one chance in 10^8 that they are equal
        assert_problem(client.post(VERIFY, json={"identifier": "ana@example.test", "code": first,
                                                 "password": PASSWORD}), 422, "invalid_code")
    assert_problem(client.post(VERIFY, json={"identifier": "ana@example.test", "code": second}),
                   422, "invalid_code")
    assert client.post(VERIFY, json={"identifier": "ana@example.test", "code": second,
                                     "password": PASSWORD}).status_code == 200


def test_unverified_accounts_log_in_but_cannot_bind_or_redeem(client, app, actors, sent_messages):
    register(client)
    tokens = login(client).json
    partner = actors.partner("transit_operator")
    r = client.post(f"{ME}/bindings", json={"partner_id": str(partner.id), "external_ref": "CARD-1"},
                    headers=bearer(tokens))
    assert_problem(r, 403, "account_unverified")
    r = client.post(REDEMPTIONS, json={"reward_id": str(uuid.uuid4())},
                    headers={**bearer(tokens), "Idempotency-Key": uuid.uuid4().hex})
    assert_problem(r, 403, "account_unverified")
    client.post(VERIFY, json={"identifier": "ana@example.test",
                              "code": sent_messages.last_code("ana@example.test")})
    r = client.post(f"{ME}/bindings", json={"partner_id": str(partner.id), "external_ref": "CARD-1"},
                    headers=bearer(tokens))
    assert r.status_code == 201, r.json


def test_a_late_registrant_takes_an_unverified_account_back(client, app, sent_messages):
    """Pre-account-takeover: the attacker registers the victim's address first and keeps a
    session; the victim registers too and verifies with the code from their mailbox."""
    register(client, password="attacker password")
    attacker = login(client, password="attacker password").json
    assert client.get(ME, headers=bearer(attacker)).status_code == 200
    register(client, password="victim's password")
    code = sent_messages.last_code("ana@example.test")
    # Until the code is used, nothing changes.
    assert login(client, password="attacker password").status_code == 200
    assert client.post(VERIFY, json={"identifier": "ana@example.test", "code": code,
                                     "password": "victim's password"}).status_code == 200
    assert_problem(client.get(ME, headers=bearer(attacker)), 401, "token_revoked")
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": attacker["refresh_token"]}), 401)
    assert_problem(login(client, password="attacker password"), 401, "invalid_credentials")
    assert login(client, password="victim's password").status_code == 200
    with app.app_context():
        reasons = set(db.session.scalars(select(AuthSession.revoked_reason)
                                         .where(AuthSession.revoked_at.is_not(None))))
        db.session.remove()
    assert reasons == {"verified_elsewhere"}


def test_registering_again_cannot_slip_the_attackers_password_into_the_victims_mailbox(
        client, app, sent_messages):
    """The attacker registers the victim's address, the victim registers, the attacker registers
    once more: the newest code in the victim's mailbox carries the attacker's password. Used with
    the victim's password it is refused; the victim's own code still works, and the account ends
    up with the victim's password only."""
    register(client, password="attacker password")
    attacker = login(client, password="attacker password").json
    register(client, password="victim's password")
    victims_code = sent_messages.last_code("ana@example.test")
    register(client, password="attacker password")
    attackers_code = sent_messages.last_code("ana@example.test")
    assert attackers_code != victims_code or pytest.skip("codes collided (1 in 10^8)")
    for body in ({"code": attackers_code, "password": "victim's password"},
                 {"code": attackers_code}):
        assert_problem(client.post(VERIFY, json={"identifier": "ana@example.test", **body}),
                       422, "invalid_code")
    assert user_row(app, email="ana@example.test").verified_at is None
    assert client.post(VERIFY, json={"identifier": "ana@example.test", "code": victims_code,
                                     "password": "victim's password"}).status_code == 200
    assert_problem(client.get(ME, headers=bearer(attacker)), 401, "token_revoked")
    assert_problem(login(client, password="attacker password"), 401, "invalid_credentials")
    assert login(client, password="victim's password").status_code == 200
    # Every other verification code died with the verification.
    assert_problem(client.post(VERIFY, json={"identifier": "ana@example.test",
                                             "code": attackers_code,
                                             "password": "attacker password"}), 422, "invalid_code")


def test_fullwidth_email_is_the_same_account_and_lookalikes_are_refused(client, app, sent_messages):
    assert register(client, "ａｌｉｃｅ@example.com").status_code == 202
    assert user_row(app, email="alice@example.com") is not None
    assert login(client, "alice@example.com").status_code == 200
    before = all_table_counts(app)
    r = register(client, "аlice@example.com")  # Cyrillic а
    assert "email" in assert_problem(r, 422, "validation")["errors"]
    assert all_table_counts(app) == before


@pytest.mark.parametrize("spelling", ["+8613900139000", "008613900139000", "139 0013 9000",
                                      "１３９００１３９０００"])
def test_every_spelling_of_a_phone_number_is_one_account(client, app, sent_messages, spelling):
    assert register(client, "13900139000").status_code == 202
    before = table_counts(app, User)
    assert client.post(REGISTER, json={"phone": spelling, "password": PASSWORD,
                                       "display_name": "Li"}).status_code == 202
    assert table_counts(app, User) == before
    assert user_row(app, phone="+8613900139000") is not None
    assert login(client, spelling).status_code == 200


def test_invalid_phone_is_422_and_changes_nothing(client, app):
    before = all_table_counts(app)
    r = client.post(REGISTER, json={"phone": "12345", "password": PASSWORD, "display_name": "Li"})
    assert "phone" in assert_problem(r, 422, "validation")["errors"]
    assert all_table_counts(app) == before


def test_email_and_phone_together_are_refused(client, app):
    r = client.post(REGISTER, json={"email": "a@example.test", "phone": "13900139000",
                                    "password": PASSWORD, "display_name": "A"})
    assert "phone" in assert_problem(r, 422, "validation")["errors"]


def test_sms_codes_go_to_the_e164_number(client, sent_messages):
    register(client, "13900139000")
    message, = sent_messages.to("+8613900139000")
    assert message.channel == "sms" and message.kind == "verify"
    assert client.post(VERIFY, json={"identifier": "139 0013 9000",
                                     "code": message.code}).status_code == 200


def test_log_notifier_writes_the_code_to_the_log(client, caplog):
    import logging
    from carbon_credits.services import notifier
    with caplog.at_level(logging.INFO, logger="carbon_credits.notifier"):
        register(client)
        notifier.wait_for_deliveries()
    record, = [r for r in caplog.records if r.name == "carbon_credits.notifier"]
    assert "ana@example.test" in record.getMessage() and "verification code is" in record.getMessage()


def test_a_failed_delivery_is_logged_and_the_answer_stays_202(client, app, monkeypatch, caplog):
    from carbon_credits.services import notifier

    class Broken:
        def send(self, message):
            raise OSError("mail server down")

    monkeypatch.setattr(notifier, "_factory", Broken)
    r = register(client)
    notifier.wait_for_deliveries()
    assert r.status_code == 202
    assert user_row(app, email="ana@example.test") is not None
    assert any("failed" in rec.getMessage() for rec in caplog.records
               if rec.name == "carbon_credits.notifier")


def test_create_user_command_makes_verified_accounts(app, runner):
    r = runner.invoke(args=["create-user", "--email", "Boss@Example.test", "--password",
                            "long enough pw", "--role", "admin"])
    assert r.exit_code == 0, r.output
    assert user_row(app, email="boss@example.test").verified_at is not None


def test_the_code_ttl_is_a_setting(client, app, sent_messages, monkeypatch):
    monkeypatch.setattr(config, "_current", dataclasses.replace(config.get_settings(),
                                                               one_time_code_ttl_minutes=5))
    register(client)
    with app.app_context():
        stored = db.session.scalars(select(OneTimeCode)).one()
        assert stored.expires_at - stored.created_at == dt.timedelta(minutes=5)
        db.session.remove()
