"""The methodology lists cost the same number of SQL statements for one methodology as for
many: each page loads its methodologies' versions in one query (no query per row)."""
from __future__ import annotations

from tests.conftest import recorded_statements

ADMIN = "/api/v1/admin/methodologies"
PUBLIC = "/api/v1/methodologies"
PARAM = {"name": "RF", "value": 97, "unit": "gCO2/km", "source": "sthj.sh.gov.cn Q&A",
         "source_status": "secondary"}


def add_code_with_drafts(client, admin, code: str, drafts: int = 1) -> None:
    r = client.post(ADMIN, json={"code": code, "title": code, "action_type": "transit",
                                 "mode": "metro"}, headers=admin.headers)
    assert r.status_code == 201, r.json
    for _ in range(drafts):
        r = client.post(f"{ADMIN}/{code}/versions", headers=admin.headers,
                        json={"family": "transit_distance", "parameters": [PARAM],
                              "effective_from": "2030-01-01T00:00:00+08:00"})
        assert r.status_code == 201, r.json


def statements_of_get(app, client, path: str, user=None) -> tuple[int, dict]:
    headers = user.headers if user else {}
    assert client.get(path, headers=headers).status_code == 200  # warm: same work each time
    with recorded_statements(app) as statements:
        r = client.get(path, headers=headers)
    assert r.status_code == 200, r.json
    return len(statements), r.json


def seed(app):
    from carbon_credits.services.seed import seed_all
    with app.app_context():
        seed_all()


def test_admin_list_costs_the_same_statements_for_one_and_for_many_methodologies(client, app, actors):
    admin = actors.user("admin")
    add_code_with_drafts(client, admin, "ONLY-ONE")
    one, body = statements_of_get(app, client, ADMIN, admin)
    assert [m["code"] for m in body["items"]] == ["ONLY-ONE"]

    seed(app)  # fourteen codes, approved and draft versions
    for i in range(4):
        add_code_with_drafts(client, admin, f"MORE-{i}", drafts=i + 1)
    many, body = statements_of_get(app, client, ADMIN, admin)

    assert len(body["items"]) == 19
    assert many == one, f"{one} statements for 1 methodology, {many} for 19"


def test_admin_list_shows_each_methodology_with_exactly_its_own_versions(client, app, actors):
    admin = actors.user("admin")
    seed(app)
    for i in range(3):
        add_code_with_drafts(client, admin, f"MORE-{i}", drafts=i + 1)
    listed = client.get(ADMIN, headers=admin.headers).json["items"]
    for item in listed:
        alone = client.get(f"{ADMIN}/{item['code']}", headers=admin.headers).json
        assert item == alone
    assert [len(m["versions"]) for m in listed if m["code"].startswith("MORE-")] == [1, 2, 3]


def test_every_admin_page_costs_the_same_and_the_pages_cover_every_code(client, app, actors):
    admin = actors.user("admin")
    seed(app)
    add_code_with_drafts(client, admin, "ZZ-LAST", drafts=2)
    costs, codes, path = [], [], f"{ADMIN}?limit=4"
    while True:
        cost, body = statements_of_get(app, client, path, admin)
        costs.append(cost)
        codes += [m["code"] for m in body["items"]]
        if not body["next_cursor"]:
            break
        path = f"{ADMIN}?limit=4&cursor={body['next_cursor']}"
    assert len(codes) == 15 and codes == sorted(codes)
    assert len(set(costs)) == 1, costs


def test_public_in_force_list_costs_the_same_for_a_page_of_one_and_of_many(client, app):
    seed(app)  # six scopes with a version in force now
    one, body = statements_of_get(app, client, f"{PUBLIC}?limit=1")
    assert len(body["items"]) == 1
    many, body = statements_of_get(app, client, PUBLIC)
    assert len(body["items"]) == 6
    assert many == one
