"""The form of a partner's signed request (carbon_credits/domain/partners.py), pure."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from hypothesis import given, strategies as st

from carbon_credits.domain import partners as rules
from carbon_credits.domain.errors import AuthenticationFailed
from carbon_credits.domain.vocabulary import DATA_PARTNER_KINDS, PARTNER_KINDS

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone.utc)
TS = str(int(NOW.timestamp()))
HEX = "ab" * 32
GOOD = {"key_id": "pk_1", "timestamp": TS, "signature": f"sha256={HEX}"}


def refusal(call) -> str:
    with pytest.raises(AuthenticationFailed) as refused:
        call()
    return refused.value.code


def test_the_signature_is_the_hmac_of_timestamp_dot_body():
    expected = hmac.new(b"sk_secret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert rules.sign("sk_secret", "1700000000", b"{}") == f"sha256={expected}"


def test_well_formed_headers_give_the_hex_digest():
    assert rules.check_signature_headers(**GOOD) == HEX


@pytest.mark.parametrize("missing", ["key_id", "timestamp", "signature"])
@pytest.mark.parametrize("empty", [None, ""])
def test_a_missing_header_is_refused(missing, empty):
    headers = {**GOOD, missing: empty}
    assert refusal(lambda: rules.check_signature_headers(**headers)) == "signature_missing"


@pytest.mark.parametrize("timestamp", ["-1", "1.5", "12a", " 17", "²", "١٧٠٠٠٠٠٠٠٠",
                                       "1" * (rules.MAX_TIMESTAMP_DIGITS + 1)])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(timestamp):
    headers = {**GOOD, "timestamp": timestamp}
    assert refusal(lambda: rules.check_signature_headers(**headers)) == "signature_bad_timestamp"


@pytest.mark.parametrize("signature", [HEX, f"sha256={HEX[:-1]}", f"sha256={HEX}0",
                                       f"sha256={HEX.upper()}", f"sha1={HEX}", f"sha256= {HEX}"])
def test_a_signature_not_of_the_form_sha256_hex_is_refused(signature):
    headers = {**GOOD, "signature": signature}
    assert refusal(lambda: rules.check_signature_headers(**headers)) == "signature_malformed"


def test_checks_run_in_order_missing_then_timestamp_then_signature_form():
    assert refusal(lambda: rules.check_signature_headers(
        key_id="", timestamp="x", signature="y")) == "signature_missing"
    assert refusal(lambda: rules.check_signature_headers(
        key_id="pk", timestamp="x", signature="y")) == "signature_bad_timestamp"
    assert refusal(lambda: rules.check_signature_headers(
        key_id="pk", timestamp=TS, signature="y")) == "signature_malformed"


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_a_timestamp_within_the_tolerance_either_way_is_accepted(offset):
    rules.check_signature_window(timestamp=str(int(NOW.timestamp()) + offset), now=NOW,
                                 tolerance_seconds=300)


@pytest.mark.parametrize("offset", [-301, 301, -10**6])
def test_a_timestamp_outside_the_tolerance_is_stale(offset):
    assert refusal(lambda: rules.check_signature_window(
        timestamp=str(int(NOW.timestamp()) + offset), now=NOW,
        tolerance_seconds=300)) == "signature_stale"


def test_a_secret_is_in_force_until_its_expiry_exclusive():
    assert rules.secret_in_force(None, NOW)
    assert rules.secret_in_force(NOW + dt.timedelta(seconds=1), NOW)
    assert not rules.secret_in_force(NOW, NOW)
    assert not rules.secret_in_force(NOW - dt.timedelta(seconds=1), NOW)


def test_any_of_the_secrets_in_force_may_have_signed():
    signature = rules.sign("new", TS, b"[]")
    assert rules.signature_matches_any(["old", "new"], timestamp=TS, raw_body=b"[]",
                                       signature=signature)
    assert not rules.signature_matches_any(["old"], timestamp=TS, raw_body=b"[]",
                                           signature=signature)
    assert not rules.signature_matches_any(["new"], timestamp=TS, raw_body=b"[ ]",
                                           signature=signature)


def test_no_secret_matches_nothing_even_the_placeholder_of_unknown_keys():
    placeholder = rules.sign(rules.UNKNOWN_KEY_SECRET, TS, b"{}")
    assert not rules.signature_matches_any([], timestamp=TS, raw_body=b"{}",
                                           signature=rules.sign("x", TS, b"{}"))
    # The placeholder is compared, so a signature made with it would pass the comparison; the
    # service refuses an unknown key whatever the comparison says.
    assert rules.signature_matches_any([], timestamp=TS, raw_body=b"{}", signature=placeholder)


@given(st.text(min_size=1), st.integers(min_value=0, max_value=10**12 - 1), st.binary())
def test_a_signature_checks_out_against_its_own_secret_and_form(secret, seconds, body):
    signature = rules.sign(secret, str(seconds), body)
    assert rules.check_signature_headers(key_id="pk", timestamp=str(seconds),
                                         signature=signature) == signature[len("sha256="):]
    assert rules.signature_matches_any([secret], timestamp=str(seconds), raw_body=body,
                                       signature=signature)


def test_every_partner_kind_has_default_scopes_and_every_data_partner_a_purpose():
    assert set(rules.DEFAULT_SCOPES) == set(PARTNER_KINDS)
    assert set(rules.BINDING_PURPOSES) == set(DATA_PARTNER_KINDS)
    assert all(not rules.DEFAULT_SCOPES[kind] for kind in PARTNER_KINDS
               if kind not in DATA_PARTNER_KINDS)
