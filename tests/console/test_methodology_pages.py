"""The methodology pages of the console: the list, a version with its parameters and sources,
the diff of two versions with a sample credit under each, and submit / approve / reject with
the four-eyes and one-in-force rules stated before the button, the service having the last
word (its 403 / 409 / 422 rendered, nothing changed)."""
from __future__ import annotations

import html
import re

import pytest

from tests.api.test_methodologies import (ADMIN, PARAM, becomes_auditor, new_code, new_draft,
                                          seed, version_path)
from tests.conftest import all_table_counts
from tests.console_support import everyone, post, sign_in

PAGE = "/console/methodologies"


def text_of(response) -> str:
    return response.get_data(as_text=True)


def element(page: str, element_id: str) -> str:
    """The opening tag and content of the element with this id, up to its closing tag."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no #{element_id}"
    return match.group(0)


def plain(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def changed_fields(page: str) -> set[str]:
    table = element(page, "diff-table")
    return set(re.findall(r'<tr data-field="([^"]+)" class="changed">', table))


@pytest.fixture
def team(actors):
    class Team:
        admin = actors.user("admin")
        admin2 = actors.user("admin")
        auditor = actors.user("auditor")
        both = actors.user("admin")  # drafts as admin, then becomes auditor
    return Team


def two_versions(client, team):
    """CITY-METRO version 1, and version 2 based on it with RF 97 -> 98 and the cap 5000 ->
    6000 g: both drafts."""
    new_code(client, team)
    new_draft(client, team.admin)
    new_draft(client, team.admin, based_on=1, parameters=[{**PARAM, "value": 98}],
              daily_cap_g=6000)


def submitted(client, team, drafter=None):
    new_code(client, team)
    new_draft(client, drafter or team.admin)
    r = client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers)
    assert r.status_code == 200, r.json


def api_version(client, team, code="CITY-METRO", v=1) -> dict:
    return client.get(version_path(code, v), headers=team.auditor.headers).json


# --- reading -------------------------------------------------------------------------------------

def test_the_list_shows_every_code_with_its_versions_statuses_and_what_is_in_force(app, team):
    seed(app)
    browser = sign_in(app, team.auditor)
    page = text_of(browser.get(PAGE))
    table = element(page, "methodology-list")
    assert len(re.findall(r"<tr data-code=", table)) == 14
    metro = re.search(r'<tr data-code="SH-METRO">(.*?)</tr>', table, re.S).group(1)
    assert 'data-status="approved"' in metro and "in force" in plain(metro)
    assert 'href="/console/methodologies/SH-METRO/versions/1"' in metro
    draft = re.search(r'<tr data-code="SZ-PT-METRO">(.*?)</tr>', table, re.S).group(1)
    assert 'data-status="draft"' in draft and "not in force" in plain(draft)
    drafts = element(text_of(browser.get(f"{PAGE}?status=draft&action_type=transit")),
                     "methodology-list")
    assert set(re.findall(r'<tr data-code="([^"]+)"', drafts)) == {"SZ-PT-METRO", "SZ-PT-EBUS"}


def test_a_version_page_shows_parameters_with_sources_caps_and_the_audit_log(app, client, team):
    seed(app)
    api = client.get(version_path("EV-CHARGING-CN", 1), headers=team.auditor.headers).json
    page = text_of(sign_in(app, team.auditor).get(f"{PAGE}/EV-CHARGING-CN/versions/1"))
    assert plain(element(page, "version-status")) == "approved"
    assert plain(element(page, "version-in-force")) == "yes"
    parameters = element(page, "version-parameters")
    for p in api["parameters"]:
        row = plain(re.search(rf'<tr data-parameter="{p["name"]}">(.*?)</tr>', parameters,
                              re.S).group(1))
        assert p["value"] in row and p["unit"] in row and p["source_status"] in row
        assert plain(html.escape(p["source"])) in row
    assert api["daily_cap_g"] == "10000.000" and "10000.000" in plain(element(page,
                                                                              "version-facts"))
    assert "No review step is open" in plain(element(page, "workflow"))
    assert 'id="methodology-audit-log"' in page and 'id="compare-form"' not in page


def test_the_diff_marks_exactly_the_changed_parameters_and_settings(app, client, team):
    two_versions(client, team)
    api = client.get(f"{ADMIN}/CITY-METRO/versions/1/diff/2", headers=team.auditor.headers).json
    page = text_of(sign_in(app, team.auditor).get(f"{PAGE}/CITY-METRO/diff?a=1&b=2"))
    assert changed_fields(page) == {c["field"] for c in api["changes"]} \
        == {"parameters.RF.value", "daily_cap_g"}
    table = element(page, "diff-table")
    rf = re.search(r'<tr data-field="parameters.RF.value" class="changed">(.*?)</tr>', table,
                   re.S).group(1)
    assert re.findall(r'<td class="value">([^<]*)</td>', rf) == ["97", "98"]
    assert "changed" in plain(rf)  # said in words, not by colour alone
    same = re.search(r'<tr data-field="parameters.RF.unit">(.*?)</tr>', table, re.S).group(1)
    assert "same" in plain(same)


def test_the_version_page_links_to_the_diff(app, client, team):
    two_versions(client, team)
    page = text_of(sign_in(app, team.admin).get(f"{PAGE}/CITY-METRO/versions/1"))
    form = element(page, "compare-form")
    assert 'action="/console/methodologies/CITY-METRO/diff"' in form
    assert '<option value="2">' in form and 'name="a" value="1"' in form


def _dry_run(client, team, v, activity):
    r = client.post("/api/v1/methodologies/CITY-METRO/calculate",
                    json={"version": v, "activity": activity}, headers=team.auditor.headers)
    assert r.status_code == 200, r.json
    return r.json


@pytest.mark.parametrize("query, activity", [
    ("", {"distance_km": 10}),  # the default sample: a 10 km trip
    ("&sample=1&distance_km=3.5&channel=partner", {"distance_km": 3.5}),
])
def test_the_sample_credit_under_each_version_is_the_apis_dry_run(app, client, team, query,
                                                                    activity):
    two_versions(client, team)
    browser = sign_in(app, team.admin)
    before = all_table_counts(app)
    page = text_of(browser.get(f"{PAGE}/CITY-METRO/diff?a=1&b=2{query}"))
    for label, v in (("a", 1), ("b", 2)):
        api = _dry_run(client, team, v, activity)
        assert plain(element(page, f"sample-{label}-grams")) == api["reduction_g"]
        assert plain(element(page, f"sample-{label}-points")) == str(api["points"])
        assert plain(element(page, f"sample-{label}-outcome")) == api["outcome"]
    assert plain(element(page, "sample-a-grams")) == ("970.000" if not query else "339.500")
    assert all_table_counts(app) == before


@pytest.mark.parametrize("value", ["-1", "abc", "1e999"])
def test_an_invalid_sample_is_the_apis_422_and_stores_nothing(app, client, team, value):
    two_versions(client, team)
    api = client.post("/api/v1/methodologies/CITY-METRO/calculate",
                      json={"version": 1, "activity": {"distance_km": -1}},
                      headers=team.auditor.headers)
    assert api.status_code == 422
    browser = sign_in(app, team.auditor)
    before = all_table_counts(app)
    r = browser.get(f"{PAGE}/CITY-METRO/diff?a=1&b=2&sample=1"
                                       f"&distance_km={value}")
    assert r.status_code == 422
    region = element(text_of(r), "sample-credit")
    assert 'data-problem="validation"' in region and "activity.distance_km" in region
    assert 'id="diff-table"' in text_of(r)  # the diff is still shown
    assert all_table_counts(app) == before


def test_a_diff_of_a_missing_version_is_404(app, client, team):
    two_versions(client, team)
    browser = sign_in(app, team.auditor)
    assert browser.get(f"{PAGE}/CITY-METRO/diff?a=1&b=9").status_code == 404
    assert browser.get(f"{PAGE}/CITY-METRO/diff?a=1").status_code == 422


# --- the workflow ---------------------------------------------------------------------------------

def test_an_admin_submits_through_the_console_and_then_has_no_approve_button(app, client, team):
    new_code(client, team)
    new_draft(client, team.admin)
    browser = sign_in(app, team.admin)
    workflow = element(text_of(browser.get(f"{PAGE}/CITY-METRO/versions/1")), "workflow")
    assert workflow.index('class="rule"') < workflow.index('id="submit-version"')
    assert ">Submit for approval</button>" in workflow and "disabled" not in workflow
    r = post(browser, f"{PAGE}/CITY-METRO/versions/1/submit")
    assert r.status_code == 303 and r.headers["Location"] == f"{PAGE}/CITY-METRO/versions/1"
    page = text_of(browser.get(r.headers["Location"]))
    assert "is submitted" in page
    workflow = element(page, "workflow")
    assert 'id="approve-version"' not in workflow and 'id="reject-version"' not in workflow
    assert "Only an auditor may approve" in plain(workflow)
    version = api_version(client, team)
    assert version["status"] == "submitted" and version["submitted_by"] == str(team.admin.id)


def test_a_draft_without_a_start_shows_submit_disabled_with_the_reason(app, client, team):
    new_code(client, team)
    new_draft(client, team.admin, effective_from=None)
    page = text_of(sign_in(app, team.admin).get(f"{PAGE}/CITY-METRO/versions/1"))
    assert "effective_from" in plain(element(page, "submit-blocked"))
    assert re.search(r'id="submit-version" disabled', page)


def test_an_author_turned_auditor_sees_approve_disabled_with_the_four_eyes_rule(app, client,
                                                                                team):
    submitted(client, team, drafter=team.both)
    becomes_auditor(client, team, team.both)
    browser = sign_in(app, team.both)
    page = text_of(browser.get(f"{PAGE}/CITY-METRO/versions/1"))
    workflow = element(page, "workflow")
    blocked = element(page, "approve-blocked")
    assert 'class="rule blocked"' in blocked and "You drafted this version" in plain(blocked)
    assert workflow.index('id="approve-blocked"') < workflow.index('id="approve-version"')
    assert re.search(r'id="approve-version" disabled', workflow)
    before = all_table_counts(app)
    r = post(browser, f"{PAGE}/CITY-METRO/versions/1/approve")  # a stale or forged form
    assert r.status_code == 403 and 'data-problem="four_eyes"' in text_of(r)
    assert all_table_counts(app) == before
    assert api_version(client, team)["status"] == "submitted"


def test_an_auditor_whose_role_the_drafter_approved_sees_approve_disabled(app, client, team):
    submitted(client, team)  # drafted and submitted by team.admin
    becomes_auditor(client, team, team.both)  # a grant team.admin approved
    page = text_of(sign_in(app, team.both).get(f"{PAGE}/CITY-METRO/versions/1"))
    assert "through a grant" in plain(element(page, "approve-blocked"))
    assert re.search(r'id="approve-version" disabled', page)


def test_a_second_person_approves_through_the_console_and_the_log_names_both(app, client, team):
    submitted(client, team)
    browser = sign_in(app, team.auditor)
    workflow = element(text_of(browser.get(f"{PAGE}/CITY-METRO/versions/1")), "workflow")
    assert "approve-blocked" not in workflow
    assert re.search(r'id="approve-version">Approve version</button>', workflow)
    r = post(browser, f"{PAGE}/CITY-METRO/versions/1/approve")
    assert r.status_code == 303
    page = text_of(browser.get(r.headers["Location"]))
    assert "is approved" in page and plain(element(page, "version-status")) == "approved"
    version = api_version(client, team)
    assert version["status"] == "approved" and version["approved_by"] == str(team.auditor.id)
    log = element(page, "methodology-audit-log")
    submit = re.search(r'<tr data-action="methodology.version_submit">(.*?)</tr>', log, re.S)
    approve = re.search(r'<tr data-action="methodology.version_approve">(.*?)</tr>', log, re.S)
    assert str(team.admin.id) in submit.group(1)
    assert str(team.auditor.id) in approve.group(1) and "(you)" in plain(approve.group(1))
    before = all_table_counts(app)
    again = post(browser, f"{PAGE}/CITY-METRO/versions/1/approve")  # the page was stale
    assert again.status_code == 409 and 'data-problem="invalid_transition"' in text_of(again)
    assert all_table_counts(app) == before


def test_an_overlap_with_another_code_in_force_is_stated_before_the_button(app, client, team):
    seed(app)
    post(sign_in(app, team.admin), f"{PAGE}/SZ-PT-METRO/versions/1/submit")
    browser = sign_in(app, team.auditor)
    page = text_of(browser.get(f"{PAGE}/SZ-PT-METRO/versions/1"))
    assert "SH-METRO version 1" in plain(element(page, "approve-blocked"))
    assert re.search(r'id="approve-version" disabled', page)
    before = all_table_counts(app)
    r = post(browser, f"{PAGE}/SZ-PT-METRO/versions/1/approve")
    assert r.status_code == 409 and 'data-problem="methodology_overlap"' in text_of(r)
    assert all_table_counts(app) == before


def test_the_overlap_is_stated_on_the_draft_before_anyone_submits_it(app, client, team):
    seed(app)
    page = text_of(sign_in(app, team.admin).get(f"{PAGE}/SZ-PT-METRO/versions/1"))
    assert "SH-METRO version 1" in plain(element(page, "approval-preview"))
    assert 'id="submit-version"' in page  # submitting stays possible: the note is a warning
    clear = text_of(sign_in(app, team.admin).get(f"{PAGE}/EVERYDAY-OWN-BAG/versions/1"))
    assert 'id="approval-preview"' not in clear


def test_approving_a_later_version_says_it_ends_the_one_in_force(app, client, team):
    new_code(client, team)
    new_draft(client, team.admin, effective_from="2025-01-01T00:00:00+08:00")
    client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers)
    assert client.post(version_path("CITY-METRO", 1, "/approve"),
                       headers=team.auditor.headers).status_code == 200
    new_draft(client, team.admin, based_on=1, effective_from="2031-01-01T00:00:00+08:00")
    client.post(version_path("CITY-METRO", 2, "/submit"), headers=team.admin.headers)
    page = text_of(sign_in(app, team.auditor).get(f"{PAGE}/CITY-METRO/versions/2"))
    assert "ends version 1 of this code" in plain(element(page, "supersedes"))
    assert "approve-blocked" not in page


@pytest.mark.parametrize("form", [{}, {"reason": ""}, {"reason": "   "}])
def test_a_rejection_needs_a_reason(app, client, team, form):
    submitted(client, team)
    browser = sign_in(app, team.auditor)
    before = all_table_counts(app)
    r = post(browser, f"{PAGE}/CITY-METRO/versions/1/reject", form)
    assert r.status_code == 422 and 'data-problem="validation"' in text_of(r)
    assert all_table_counts(app) == before
    assert api_version(client, team)["status"] == "submitted"


def test_an_auditor_rejects_with_a_reason(app, client, team):
    submitted(client, team)
    browser = sign_in(app, team.auditor)
    page = text_of(browser.get(f"{PAGE}/CITY-METRO/versions/1"))
    assert '<label for="reject-reason">' in page and 'id="reject-reason"' in page
    r = post(browser, f"{PAGE}/CITY-METRO/versions/1/reject", {"reason": "RF is not sourced"})
    assert r.status_code == 303
    version = api_version(client, team)
    assert version["status"] == "rejected" and version["rejection_reason"] == "RF is not sourced"
    assert version["rejected_by"] == str(team.auditor.id)
    assert "RF is not sourced" in text_of(browser.get(r.headers["Location"]))


@pytest.mark.parametrize("action", ["submit", "approve", "reject"])
def test_a_post_without_the_csrf_token_is_400_and_changes_nothing(app, client, team, action):
    new_code(client, team)
    new_draft(client, team.admin)
    if action != "submit":
        client.post(version_path("CITY-METRO", 1, "/submit"), headers=team.admin.headers)
    browser = sign_in(app, team.admin if action == "submit" else team.auditor)
    before = all_table_counts(app)
    r = browser.post(f"{PAGE}/CITY-METRO/versions/1/{action}", data={"reason": "no"})
    assert r.status_code == 400 and 'data-problem="csrf_failed"' in text_of(r)
    assert all_table_counts(app) == before


# --- who may -------------------------------------------------------------------------------------

def test_district_staff_merchants_and_verifiers_are_refused(app, client, actors, team):
    submitted(client, team)
    people = everyone(actors, client)
    pages = [PAGE, f"{PAGE}/CITY-METRO/versions/1", f"{PAGE}/CITY-METRO/diff?a=1&b=1"]
    actions = [f"{PAGE}/CITY-METRO/versions/1/{a}" for a in ("submit", "approve", "reject")]
    for name in ("district_auditor", "district_admin", "merchant", "verifier"):
        browser = sign_in(app, people[name])
        for path in pages:
            r = browser.get(path)
            assert r.status_code == 403, (name, path)
            if name.startswith("district_"):
                assert 'data-problem="city_wide_only"' in text_of(r)
        before = all_table_counts(app)
        for path in actions:
            assert post(browser, path, {"reason": "x"}).status_code == 403, (name, path)
        assert all_table_counts(app) == before
    assert "Methodologies" not in plain(element(text_of(sign_in(app, people["merchant"])
                                                        .get("/console/")), "main"))
    citizen = app.test_client()
    from tests.console_support import csrf_token
    r = citizen.post("/console/login", data={"identifier": people["citizen"].email,
                                             "password": people["citizen"].password,
                                             "csrf_token": csrf_token(citizen)})
    assert r.status_code == 403
    assert api_version(client, team)["status"] == "submitted"

