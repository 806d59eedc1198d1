"""English and Simplified Chinese chosen by Accept-Language (docs/localisation.md): problem
titles and details, field messages, methodology titles and notification messages follow the
client's language; codes, types, ids, amounts and the English title never do."""
from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.i18n import negotiate_language
from api.i18n_extract import messages_in_tree
from tests.conftest import assert_problem

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "api" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
ADMIN = "/api/v1/admin/methodologies"


def seed(app):
    from carbon_credits.services.seed import seed_all
    with app.app_context():
        seed_all()


# --- choosing the language --------------------------------------------------------------------

@pytest.mark.parametrize("header, language", [
    ("zh", "zh-CN"), ("zh-CN", "zh-CN"), ("zh-Hans", "zh-CN"), ("zh-Hans-CN", "zh-CN"),
    ("zh_cn", "zh-CN"), ("ZH-hans-cn", "zh-CN"), ("en", "en"), ("en-GB", "en"),
    ("en;q=0.5, zh-CN;q=0.9", "zh-CN"), ("zh;q=0.5, en;q=0.8", "en"),
    ("en-US,zh;q=0.9", "en"),            # q first: en-US (1) before zh (0.9)
    ("zh;q=0.5, en;q=0.5", "zh-CN"),     # a tie keeps the order written
    ("zh;q=0, en", "en"), ("fr, zh;q=0.3", "zh-CN"), ("zh-TW, en;q=0.5", "en"),
    ("fr", None), ("", None), (None, None), ("*", None), ("zh;q=abc, en;q=0.1", "en"),
    ("zh;q=2", None), (",,;;q=,", None),
])
def test_accept_language_is_negotiated_by_quality(header, language):
    assert negotiate_language(header) == language


@given(st.text(max_size=200))
def test_any_header_value_negotiates_to_one_of_ours_or_none(header):
    assert negotiate_language(header) in ("en", "zh-CN", None)


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=120)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=HEADER_TEXT)
def test_any_accept_language_gets_english_or_chinese_and_never_a_5xx(client, header):
    r = client.get("/api/v1/methodologies?limit=0", headers={"Accept-Language": header})
    assert r.status_code < 500
    assert r.headers["Content-Language"] in ("en", "zh-CN")
    assert r.json["type"] == "/problems/validation"


def test_unknown_or_missing_language_is_english(client):
    for headers in ({}, {"Accept-Language": "fr-FR, de;q=0.8"}, {"Accept-Language": "*"}):
        r = client.get("/api/v1/me", headers=headers)
        assert_problem(r, 401, "token_missing")
        assert r.json["title"] == "Authentication required"
        assert r.headers["Content-Language"] == "en"


def test_the_json_api_reads_the_header_only_not_a_lang_parameter(client):
    r = client.get("/api/v1/methodologies?lang=zh", headers=EN)
    assert_problem(r, 422, "validation")
    assert r.json["errors"] == {"lang": ["Unknown field."]}
    assert r.headers["Content-Language"] == "en"


def test_json_answers_say_their_language_and_vary_on_it(client):
    for headers, language in ((ZH, "zh-CN"), (EN, "en")):
        r = client.get("/api/v1/methodologies", headers=headers)
        assert r.status_code == 200
        assert r.headers["Content-Language"] == language
        assert "Accept-Language" in r.headers["Vary"]
        problem = client.get("/api/v1/me", headers=headers)
        assert problem.headers["Content-Language"] == language
        assert "Accept-Language" in problem.headers["Vary"]


# --- problems -----------------------------------------------------------------------------------

def test_error_title_and_detail_follow_the_language_and_the_type_does_not(client):
    zh = client.get("/api/v1/me", headers=ZH)
    en = client.get("/api/v1/me", headers=EN)
    assert_problem(zh, 401, "token_missing")
    assert zh.json["title"] == "需要身份认证" and en.json["title"] == "Authentication required"
    assert zh.json["detail"] == "需要提供 Bearer 访问令牌。"
    assert en.json["detail"] == "A bearer access token is required."
    assert zh.json["type"] == en.json["type"] and zh.json["status"] == en.json["status"]


def test_a_field_message_of_marshmallow_is_translated(client):
    zh = client.get("/api/v1/methodologies?limit=abc", headers=ZH)
    en = client.get("/api/v1/methodologies?limit=abc", headers=EN)
    assert_problem(zh, 422, "validation")
    assert en.json["errors"] == {"limit": ["Not a valid integer."]}
    assert zh.json["errors"] == {"limit": ["不是有效的整数。"]}
    assert zh.json["title"] == "请求无效" and zh.json["detail"] == "limit: 不是有效的整数。"


def test_a_parameterised_field_message_is_translated_by_its_template(client):
    en = client.get("/api/v1/methodologies?limit=0", headers=EN)
    zh = client.get("/api/v1/methodologies?limit=0", headers=ZH)
    assert en.json["errors"]["limit"] == [
        "Must be greater than or equal to 1 and less than or equal to 200."]
    assert zh.json["errors"]["limit"] == ["必须大于或等于 1 且小于或等于 200。"]


def test_a_missing_required_field_is_translated(client):
    r = client.post("/api/v1/auth/login", json={}, headers=ZH)
    assert_problem(r, 422, "validation")
    assert all(messages == ["缺少必填字段。"] for messages in r.json["errors"].values())


def test_a_domain_conflict_detail_is_translated_with_its_parameters(client, actors):
    admin = actors.user("admin")
    body = {"code": "CITY-METRO", "title": "City metro", "action_type": "transit", "mode": "metro"}
    assert client.post(ADMIN, json=body, headers=admin.headers).status_code == 201
    en = client.post(ADMIN, json=body, headers={**admin.headers, **EN})
    zh = client.post(ADMIN, json=body, headers={**admin.headers, **ZH})
    assert_problem(zh, 409, "methodology_exists")
    assert en.json["detail"] == "Methodology CITY-METRO already exists."
    assert zh.json["detail"] == "方法学 CITY-METRO 已存在。"
    assert zh.json["title"] == "冲突" and zh.json["type"] == en.json["type"]


def test_a_constant_not_found_detail_is_translated(client, actors):
    citizen = actors.user("citizen")
    r = client.post(f"/api/v1/me/notifications/{uuid.uuid4()}/read",
                    headers={**citizen.headers, **ZH})
    assert_problem(r, 404, "not_found")
    assert r.json["title"] == "未找到" and r.json["detail"] == "未找到该通知。"


# --- methodology titles -------------------------------------------------------------------------

def test_methodology_titles_are_chinese_for_chinese_clients_in_list_and_detail(client, app):
    seed(app)
    en = {m["code"]: m for m in client.get("/api/v1/methodologies", headers=EN).json["items"]}
    zh = {m["code"]: m for m in client.get("/api/v1/methodologies", headers=ZH).json["items"]}
    metro_en, metro_zh = en["SH-METRO"], zh["SH-METRO"]
    assert metro_zh["display_title"] == "上海城市轨道交通（地铁）出行，按公里计"
    assert metro_en["display_title"] == "Shanghai urban rail (metro) trips, per km"
    # The record does not change with the language; only the text to show does.
    assert metro_zh["title"] == metro_en["title"] == "Shanghai urban rail (metro) trips, per km"
    assert {k: v for k, v in metro_zh.items() if k != "display_title"} == \
        {k: v for k, v in metro_en.items() if k != "display_title"}
    assert all(m["title_zh"] and m["display_title"] == m["title_zh"] for m in zh.values())
    detail = client.get("/api/v1/methodologies/SH-METRO", headers=ZH).json
    assert detail["display_title"] == "上海城市轨道交通（地铁）出行，按公里计"
    assert client.get("/api/v1/methodologies/SH-METRO", headers=EN).json["display_title"] == \
        "Shanghai urban rail (metro) trips, per km"


def test_every_seeded_methodology_has_a_chinese_title(app):
    import json
    from carbon_credits.services.methodologies.seed import SEED_FILE
    items = json.loads(SEED_FILE.read_text(encoding="utf-8"))["methodologies"]
    assert all(item.get("title_zh") and any("\u4e00" <= ch <= "\u9fff" for ch in item["title_zh"])
               for item in items)


def test_an_admin_may_give_a_chinese_title_and_without_one_the_english_is_shown(client, actors):
    admin = actors.user("admin")
    with_zh = client.post(ADMIN, json={"code": "CITY-BUS", "title": "City bus", "title_zh": "城市公交",
                                       "action_type": "transit", "mode": "bus"},
                          headers={**admin.headers, **ZH})
    assert with_zh.status_code == 201, with_zh.json
    assert with_zh.json["title_zh"] == "城市公交" and with_zh.json["display_title"] == "城市公交"
    without = client.post(ADMIN, json={"code": "CITY-BIKE", "title": "City bike",
                                       "action_type": "transit", "mode": "bike"},
                          headers={**admin.headers, **ZH})
    assert without.json["title_zh"] is None and without.json["display_title"] == "City bike"
    too_long = client.post(ADMIN, json={"code": "CITY-WALK", "title": "Walk", "title_zh": "长" * 201,
                                        "action_type": "transit", "mode": "walk"},
                           headers={**admin.headers, **ZH})
    assert_problem(too_long, 422, "validation")
    assert too_long.json["errors"]["title_zh"] == ["超过最大长度 200。"]


def test_the_public_page_shows_the_chinese_title_in_chinese(client, app):
    seed(app)
    assert "上海城市轨道交通（地铁）出行，按公里计" in client.get("/?lang=zh").get_data(as_text=True)
    english = client.get("/?lang=en").get_data(as_text=True)
    assert "Shanghai urban rail (metro) trips, per km" in english
    assert "上海城市轨道交通（地铁）出行，按公里计" not in english


def test_a_title_is_in_no_hash_a_translation_could_change(app):
    from carbon_credits.services.methodologies import content
    assert "title" not in content.CONTENT_FIELDS and "title_zh" not in content.CONTENT_FIELDS


# --- notifications ------------------------------------------------------------------------------

def test_a_notification_reads_in_the_client_language(client, actors, app):
    from carbon_credits.services import notifications
    citizen = actors.user("citizen")
    with app.app_context():
        notifications.notify(user_id=citizen.id, kind="points_expiring", dedupe_key="t:1",
                             data={"points": 420, "expires_on": "2026-12-31",
                                   "first_expires_at": "2026-12-30T16:00:00+00:00", "lots": 3})
    en = client.get("/api/v1/me/notifications", headers={**citizen.headers, **EN}).json["items"][0]
    zh = client.get("/api/v1/me/notifications", headers={**citizen.headers, **ZH}).json["items"][0]
    assert en["message"] == "420 points lapse on 2026-12-31."
    assert zh["message"] == "您有 420 积分将于 2026-12-31 过期。"
    assert en["data"] == zh["data"] and en["kind"] == zh["kind"] == "points_expiring"


# --- the catalog ----------------------------------------------------------------------------------

def _messages(catalog) -> dict:
    return {m.id: m.string for m in catalog if m.id}


def test_the_committed_mo_is_compiled_from_the_po():
    """`make i18n-compile` after every change of the .po: the service reads the .mo."""
    with open(CATALOG / "messages.po", "rb") as po:
        compiled = io.BytesIO()
        write_mo(compiled, read_po(po))
    compiled.seek(0)
    with open(CATALOG / "messages.mo", "rb") as mo:
        assert _messages(read_mo(mo)) == _messages(read_mo(compiled)), \
            "messages.mo is stale: run `make i18n-compile`"


# Where a citizen's app meets errors: every message raised there must have its Chinese.
CITIZEN_FACING = (
    "api/auth.py", "api/errors.py", "api/fields.py", "api/hardening.py", "api/i18n_messages.py",
    "api/idempotency.py", "api/jsonbody.py", "api/notification_messages.py", "api/pagination.py",
    "api/resources/identity.py", "carbon_credits/domain/crediting.py",
    "carbon_credits/domain/errors.py", "carbon_credits/domain/identifiers.py",
    "carbon_credits/domain/methodology/", "carbon_credits/domain/vouchers.py",
    "carbon_credits/services/accounts.py", "carbon_credits/services/action_reads.py",
    "carbon_credits/services/actions.py", "carbon_credits/services/auth.py",
    "carbon_credits/services/bindings.py", "carbon_credits/services/claim_plans.py",
    "carbon_credits/services/claims.py", "carbon_credits/services/donations.py",
    "carbon_credits/services/idempotency.py", "carbon_credits/services/ledger/holds.py",
    "carbon_credits/services/notifications.py", "carbon_credits/services/privacy.py",
    "carbon_credits/services/profile.py", "carbon_credits/services/receipts.py",
    "carbon_credits/services/rewards/redemptions.py", "carbon_credits/services/sessions.py",
    "carbon_credits/services/throttle.py",
)


def test_translation_coverage_of_raised_messages(capsys):
    """Counts the English messages raised in carbon_credits/ and api/ (read from the syntax
    tree, as `make i18n-extract` does) that have a Chinese translation."""
    with open(CATALOG / "messages.po", "rb") as po:
        translated = {k for k, v in _messages(read_po(po)).items() if v}
    raised = messages_in_tree(ROOT)
    covered = {m for m in raised if m in translated}
    citizen = {m for m, files in raised.items() if any(f.startswith(CITIZEN_FACING) for f in files)}
    with capsys.disabled():
        print(f"\nlocalisation: {len(covered)} of {len(raised)} English messages (raised or "
              f"marked) have a zh-CN translation; citizen-facing {len(citizen & covered)} of "
              f"{len(citizen)}")
    assert sorted(citizen - covered) == [], "run `make i18n-extract` and translate these"


def test_translate_falls_back_to_english_and_never_fails(app):
    from api.i18n import _pattern, translate
    with app.test_request_context(headers=ZH):
        assert translate("Not enough available points.") == "可用积分不足。"
        assert translate("The hold is expired.") == "积分冻结状态为 expired。"
        assert translate("A message nobody wrote.") == "A message nobody wrote."
        assert translate("") == "" and translate(None) is None
    with app.test_request_context(headers=EN):
        assert translate("Not enough available points.") == "Not enough available points."
    twice = _pattern("%(a)s and %(a)s")
    assert twice.fullmatch("x and x") and not twice.fullmatch("x and y")
