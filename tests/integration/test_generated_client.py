"""The citizen journey through a Python client generated from the live OpenAPI document.

The module starts the suite's app over real HTTP, fetches `/api/v1/openapi.json` from it and
runs openapi-python-client on that document (settings in openapi-client.yml, the same ones
`make client` uses), once per module and into a temporary directory: the generated package is
imported as it comes out, never edited and never committed. A generator warning about the
document (an operation or schema it cannot read) fails the generation, so the document stays
one a client can be built from. The citizen then registers, verifies, logs in, logs a walk,
sees the points, reserves a reward and has the voucher honoured, every step a call of the
generated client (docs/api.md, "Generated Python client").

Without the generator the test is skipped, unless CI is set (`.ci/run` runs with CI=true),
where that is a failure.
"""
from __future__ import annotations

import datetime as dt
import importlib
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from tests.api.test_actions import recent, seeded  # noqa: F401 (fixture: methodologies in force)
from tests.browser.support import LiveServer
from tests.rewards_support import merchant

ROOT = pathlib.Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "openapi-client.yml"
PACKAGE = "carbon_credits_client"
UTC = dt.timezone.utc


def _generator() -> str | None:
    """The openapi-python-client command of this interpreter's environment, else on PATH."""
    beside = pathlib.Path(sys.executable).parent / "openapi-python-client"
    return str(beside) if beside.is_file() else shutil.which("openapi-python-client")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def live_server(app):
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def generated(live_server, tmp_path_factory):
    """The generated package, imported; generated once per module (and per xdist worker)."""
    generator = _generator()
    if generator is None:
        reason = ("openapi-python-client is not installed: run "
                  "`.venv/bin/pip install -r requirements.txt` (or `make test`)")
        if _in_ci():
            pytest.fail(f"CI is set, but {reason}", pytrace=False)
        pytest.skip(reason)
    import httpx  # installed with the generator (requirements.txt)
    workdir = tmp_path_factory.mktemp("generated-client")
    document = httpx.get(f"{live_server.url}/api/v1/openapi.json", timeout=30)
    assert document.status_code == 200, document.text
    (workdir / "openapi.json").write_bytes(document.content)
    # Its post-generation hook runs ruff, which lives beside the generator.
    path = os.pathsep.join([str(pathlib.Path(generator).parent), os.environ.get("PATH", "")])
    run = subprocess.run(
        [generator, "generate", "--path", str(workdir / "openapi.json"),
         "--output-path", str(workdir / PACKAGE), "--meta", "none", "--config", str(SETTINGS),
         "--fail-on-warning"],
        capture_output=True, text=True, timeout=240, env={**os.environ, "PATH": path})
    assert run.returncode == 0, f"the generator refused the document:\n{run.stdout}{run.stderr}"
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(workdir))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def server(live_server):
    yield live_server
    live_server.wait_idle()  # no request may still run when the database is reset


def test_citizen_journey_through_the_generated_client(generated, server, app, actors, seeded,
                                                      sent_messages):
    from carbon_credits_client import AuthenticatedClient, Client
    from carbon_credits_client.api.actions import post_api_v1_actions
    from carbon_credits_client.api.identity import (post_api_v1_auth_login,
                                                    post_api_v1_auth_register,
                                                    post_api_v1_auth_verify)
    from carbon_credits_client.api.ledger import get_api_v1_me_balance
    from carbon_credits_client.api.rewards import (get_api_v1_rewards,
                                                   post_api_v1_merchant_redemptions_confirm,
                                                   post_api_v1_merchant_rewards,
                                                   post_api_v1_redemptions)
    from carbon_credits_client.models import (Action, Balance, IdentifierVerify, Login,
                                              RedemptionCreate, RedemptionStatus, Register,
                                              RewardCreate, TransitActionClaim,
                                              TransitActionClaimActionType, TransitActionClaimMode,
                                              VoucherConfirm)

    # The merchant's catalog (setup: its staff account is made through the services).
    _, staff = merchant(actors)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    with AuthenticatedClient(base_url=server.url, token=staff.access,
                             raise_on_unexpected_status=True) as desk:
        reward = post_api_v1_merchant_rewards.sync(client=desk, body=RewardCreate(
            title="Oat latte", points_cost=150, stock=5, valid_from=now - dt.timedelta(hours=1),
            valid_until=now + dt.timedelta(days=30)))
    assert reward.points_cost == 150 and reward.stock == 5

    email, password = "lin@example.test", "a long enough password"
    with Client(base_url=server.url, raise_on_unexpected_status=True) as anonymous:
        accepted = post_api_v1_auth_register.sync_detailed(client=anonymous, body=Register(
            email=email, password=password, display_name="Lin"))
        assert accepted.status_code == 202 and accepted.parsed.status == "verification_sent"
        code = sent_messages.last_code(email, "verify")
        verified = post_api_v1_auth_verify.sync(client=anonymous,
                                                body=IdentifierVerify(identifier=email, code=code))
        assert verified.status == "verified"
        tokens = post_api_v1_auth_login.sync(client=anonymous,
                                             body=Login(identifier=email, password=password))
    assert tokens.token_type.lower() == "bearer" and tokens.expires_in > 0

    with AuthenticatedClient(base_url=server.url, token=tokens.access_token,
                             raise_on_unexpected_status=True) as citizen:
        start = recent(2)
        walk = post_api_v1_actions.sync(client=citizen, idempotency_key="walk-1",
                                        body=TransitActionClaim(
            action_type=TransitActionClaimActionType.TRANSIT, mode=TransitActionClaimMode.WALK,
            started_at=start, ended_at=start + dt.timedelta(minutes=30), distance_km=2))
        assert isinstance(walk, Action), walk
        assert walk.status == "credited" and walk.points == 208  # 104 g/km x 2 km
        assert walk.ended_at == start + dt.timedelta(minutes=30)  # parsed, aware datetimes
        assert walk.to_dict()["methodology"] == {"code": "BJ-WALK", "version": 1}

        balance = get_api_v1_me_balance.sync(client=citizen)
        assert isinstance(balance, Balance) and (balance.available, balance.reserved) == (208, 0)

        offered = get_api_v1_rewards.sync(client=citizen).items
        assert [(r.id, r.title, r.points_cost) for r in offered] == [(reward.id, "Oat latte", 150)]
        voucher = post_api_v1_redemptions.sync(client=citizen, idempotency_key="tap-1",
                                               body=RedemptionCreate(reward_id=offered[0].id))
        assert voucher.status is RedemptionStatus.RESERVED and voucher.points == 150
        assert voucher.reward_id == reward.id and len(voucher.voucher_code) == 11
        assert voucher.expires_at > dt.datetime.now(UTC)
        balance = get_api_v1_me_balance.sync(client=citizen)
        assert (balance.available, balance.reserved) == (58, 150)

        with AuthenticatedClient(base_url=server.url, token=staff.access,
                                 raise_on_unexpected_status=True) as desk:
            honoured = post_api_v1_merchant_redemptions_confirm.sync(
                client=desk, body=VoucherConfirm(voucher_code=voucher.voucher_code))
        assert honoured.id == voucher.id and honoured.status == "redeemed"
        balance = get_api_v1_me_balance.sync(client=citizen)
        assert (balance.available, balance.reserved) == (58, 0)
