"""The console's main journeys in a real browser (issue 19): the four-eyes approval of a
methodology version by two different people, an auditor's review of flagged actions, the
merchant desk used with the keyboard only, and the reports with their chart; plus WCAG AA
contrast on the sign-in page and the desk. The data is set up through the services and the
JSON API; the pages are driven only through the browser, and every outcome is checked again
through the JSON API.

Each test fails on any console error, uncaught exception, failed request or 5xx of its pages
(tests/browser/conftest.py). Screenshots: build/screenshots/ (docs/browser-tests.md)."""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest

from tests.api.test_actions import recent, seeded, trip  # noqa: F401
from tests.api.test_methodologies import becomes_auditor, new_code, new_draft, version_path
from tests.browser.support import expect, screenshot
from tests.browser.test_public_page_browser import assert_chart_texts_readable, assert_wcag_aa
from tests.rewards_support import REDEMPTIONS, create_reward, give_points

ACTIONS = "/api/v1/actions"
ADMIN_ACTIONS = "/api/v1/admin/actions"
SCHEME_TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


# --- the browser as a person uses it -------------------------------------------------------

def sign_in(page, user, path: str = "/console/login") -> None:
    """Open `path` (the sign-in form, or a page that sends there) and sign in with the mouse."""
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.get_by_label("Email or phone").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/login"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def menu(page, name: str):
    """A link of the console's menu (the overview page has cards with the same names)."""
    return page.get_by_role("navigation", name="Console").get_by_role("link", name=name)


def tab_to(page, selector: str, *, limit: int = 40) -> int:
    """Press Tab until the element matching `selector` has the focus; how many presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return presses
    raise AssertionError(f"{selector} not reached with {limit} presses of Tab; focus is on "
                         + page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)"))


def focused_id(page) -> str:
    return page.evaluate("() => document.activeElement && document.activeElement.id")


# --- 1. four-eyes approval of a methodology version ------------------------------------------

@pytest.fixture
def team(actors):
    class Team:
        admin = actors.user("admin", display_name="Wang Min")
        admin2 = actors.user("admin")
        auditor = actors.user("auditor", display_name="Li Na")
        both = actors.user("admin")  # drafts as admin, then becomes auditor (becomes_auditor)
    return Team


def test_four_eyes_an_admin_submits_and_another_person_an_auditor_approves(page, client, team):
    new_code(client, team)            # CITY-METRO, drafted by team.admin through the JSON API
    new_draft(client, team.admin)
    versions = "/console/methodologies/CITY-METRO/versions/1"

    # The admin finds the draft in the list, opens it and submits it.
    sign_in(page, team.admin)
    menu(page, "Methodologies").click()
    row = page.locator("#methodology-list tr[data-code='CITY-METRO']")
    expect(row.locator("li[data-version='1']")).to_have_attribute("data-status", "draft")
    row.get_by_role("link", name="version 1").click()
    expect(page).to_have_url(re.compile(re.escape(versions) + "$"))
    expect(page.locator("#version-status")).to_have_text("draft")
    workflow = page.locator("#workflow")
    expect(workflow.locator("#rule-four-eyes")).to_be_visible()
    expect(workflow.get_by_role("button", name="Submit for approval")).to_be_enabled()
    workflow.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#version-status")).to_have_text("submitted")
    expect(page.get_by_role("status").filter(has_text="is submitted")).to_be_visible()
    # The submitter may not approve: no approve (or reject) button for them, the rule stated.
    expect(workflow.locator("#rule-four-eyes")).to_contain_text("Four-eyes")
    expect(workflow.get_by_role("button", name="Approve version")).to_have_count(0)
    expect(workflow.get_by_role("button", name="Reject version")).to_have_count(0)
    expect(workflow).to_contain_text("Only an auditor may approve or reject")
    sign_out(page)

    # An auditor, another person, signs in straight to the version and approves it.
    sign_in(page, team.auditor, versions)
    expect(page).to_have_url(re.compile(re.escape(versions) + "$"))
    expect(page.locator("#version-status")).to_have_text("submitted")
    rule = workflow.locator("#rule-four-eyes")
    expect(rule).to_be_visible()
    expect(rule).to_contain_text("independent of everyone who drafted, edited or submitted")
    expect(workflow.locator(".rule.blocked")).to_have_count(0)
    approve = workflow.get_by_role("button", name="Approve version")
    expect(approve).to_be_visible()
    expect(approve).to_be_enabled()
    # the rule comes before the button
    assert page.evaluate("""() => {
        const rule = document.getElementById("rule-four-eyes");
        const button = document.getElementById("approve-version");
        return Boolean(rule.compareDocumentPosition(button) & Node.DOCUMENT_POSITION_FOLLOWING);
    }""")
    expect(page.locator("#version-people tr[data-step='submitted']")).to_contain_text(
        str(team.admin.id))
    screenshot(page, "methodology-version")
    approve.click()

    expect(page.locator("#version-status")).to_have_text("approved")
    expect(page.get_by_role("status").filter(has_text="is approved")).to_be_visible()
    expect(workflow.get_by_role("button", name="Approve version")).to_have_count(0)
    expect(page.locator("#version-people tr[data-step='approved']")).to_contain_text(
        f"{team.auditor.id} (you)")
    expect(page.locator("#methodology-audit-log tr[data-action='methodology.version_approve']")
           ).to_contain_text(str(team.auditor.id))
    screenshot(page, "methodology-approved")

    version = client.get(version_path("CITY-METRO", 1), headers=team.auditor.headers).json
    assert version["status"] == "approved"
    assert version["approved_by"] == str(team.auditor.id)
    assert version["submitted_by"] == str(team.admin.id) != version["approved_by"]


def test_four_eyes_the_author_turned_auditor_sees_approve_disabled_with_the_rule(page, client,
                                                                                 team):
    """The refusal is stated before the button, and the button cannot be pressed."""
    new_code(client, team)
    new_draft(client, team.both)  # drafted by `both`, submitted by team.admin
    assert client.post(version_path("CITY-METRO", 1, "/submit"),
                       headers=team.admin.headers).status_code == 200
    becomes_auditor(client, team, team.both)

    sign_in(page, team.both, "/console/methodologies/CITY-METRO/versions/1")
    expect(page.locator("#version-status")).to_have_text("submitted")
    blocked = page.locator("#workflow #approve-blocked")
    expect(blocked).to_be_visible()
    expect(blocked).to_have_class("rule blocked")
    expect(blocked).to_contain_text("You drafted this version")
    approve = page.get_by_role("button", name="Approve version")
    expect(approve).to_be_disabled()
    expect(approve).to_have_attribute("aria-describedby", "approve-blocked")
    screenshot(page, "methodology-version-blocked")
    assert client.get(version_path("CITY-METRO", 1),
                      headers=team.auditor.headers).json["status"] == "submitted"


# --- 2. the review of a flagged action --------------------------------------------------------

def _flagged(client, citizen, hours_ago: int) -> str:
    """A self-reported metro ride: flagged for an auditor's review (`self_report_review`)."""
    claim = client.post(ACTIONS, json=trip(recent(hours_ago)), headers=citizen.headers).json
    assert claim["status"] == "pending_review", claim
    return claim["id"]


def test_an_auditor_reviews_flagged_actions_from_the_queue(page, client, actors,
                                                           seeded):  # noqa: F811
    citizen = actors.user("citizen")
    auditor = actors.user("auditor")
    approved, rejected = _flagged(client, citizen, 6), _flagged(client, citizen, 4)

    sign_in(page, auditor)
    menu(page, "Review queue").click()
    queue = page.locator("#review-queue")
    expect(queue.locator("tbody tr[data-action-id]")).to_have_count(2)
    row = queue.locator(f"tr[data-action-id='{approved}']")
    expect(row).to_contain_text("pending_review")
    expect(row).to_contain_text("self_report_review")
    row.get_by_role("link").click()

    expect(page).to_have_url(re.compile(f"/console/reviews/{approved}$"))
    expect(page.locator("#action-status")).to_have_text("pending_review")
    expect(page.locator("#action-reasons")).to_contain_text("self_report_review")
    expect(page.locator("#action-methodology")).to_contain_text("SH-METRO")
    breakdown = page.locator("#action-breakdown")
    for text in ("RF", "97", "gCO2/km", "distance_km", "970.000"):
        expect(breakdown).to_contain_text(text)
    expect(page.locator("#action-evidence")).to_contain_text("self-reported in the app")
    decision = page.locator("#decision")
    expect(decision.locator("#rule-own-claim")).to_have_class("rule")
    expect(decision.get_by_role("button", name="Approve action")).to_be_enabled()
    screenshot(page, "review-action")
    decision.get_by_label("Reason").fill("Tap-in record seen at the gate")
    decision.get_by_role("button", name="Approve action").click()

    expect(page.locator("#action-status")).to_have_text("credited")
    expect(page.get_by_text("Action approved: 970 points credited.")).to_be_visible()
    expect(page.get_by_role("button", name="Reverse action")).to_be_visible()
    screenshot(page, "review-action-approved")

    # Back to the queue: the other claim is left; rejected with a reason.
    page.get_by_role("link", name="Back to the review queue").click()
    expect(queue.locator("tbody tr[data-action-id]")).to_have_count(1)
    queue.locator(f"tr[data-action-id='{rejected}']").get_by_role("link").click()
    page.get_by_label("Reason").fill("No tap-in record for this trip")
    page.get_by_role("button", name="Reject action").click()
    expect(page.locator("#action-status")).to_have_text("rejected")
    expect(page.locator("#decision-closed")).to_be_visible()
    expect(page.get_by_role("button", name="Approve action")).to_have_count(0)

    first = client.get(f"{ADMIN_ACTIONS}/{approved}", headers=auditor.headers).json
    assert first["status"] == "credited" and first["points"] == 970
    assert first["review_reason"] == "Tap-in record seen at the gate"
    second = client.get(f"{ADMIN_ACTIONS}/{rejected}", headers=auditor.headers).json
    assert second["status"] == "rejected"
    assert second["review_reason"] == "No tap-in record for this trip"
    assert client.get("/api/v1/me/balance", headers=citizen.headers).json["available"] == 970


# --- 3. the merchant desk, keyboard only -------------------------------------------------------

@pytest.fixture
def till(app, client, actors):
    """A merchant's staff member, a reward of theirs, and a citizen's reserved voucher."""
    partner = actors.partner("merchant", name="Green Bean Café")
    staff = actors.user("merchant", partner_id=partner.id, display_name="Zhou Jie")
    citizen = actors.user("citizen", display_name="王芳")
    give_points(app, [citizen.id], 1000)
    reward = create_reward(client, staff, title="Oat latte", points_cost=120)
    r = client.post(REDEMPTIONS, json={"reward_id": reward["id"]}, headers=citizen.headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    return {"staff": staff, "citizen": citizen, "voucher": r.json}


def keyboard_sign_in(page, user) -> None:
    """Sign in from the form with the keyboard only: Tab to a field, type, Enter."""
    tab_to(page, "#identifier")
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    assert focused_id(page) == "password"
    page.keyboard.type(user.password)
    page.keyboard.press("Enter")


def test_a_merchant_uses_the_desk_with_the_keyboard_only(page, client, till):
    voucher = till["voucher"]
    page.goto("/console/desk")  # not signed in: to the sign-in form, and back after it
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    keyboard_sign_in(page, till["staff"])

    expect(page).to_have_url(re.compile(r"/console/desk$"))
    expect(page.get_by_role("heading", name="Voucher desk")).to_be_visible()
    code_field = page.get_by_label("Voucher code")
    expect(code_field).to_be_focused()  # autofocus: the till is ready to type
    expect(page.get_by_role("button", name="Scan QR code")).to_be_visible()  # desk.js ran
    expect(page.locator("#todays-confirmations")).to_contain_text("No vouchers confirmed yet")

    # As a customer reads it out: lower case, without the dash.
    page.keyboard.type(voucher["voucher_code"].replace("-", "").lower())
    page.keyboard.press("Enter")
    card = page.locator("#voucher-result #voucher-card")
    expect(card).to_be_visible()
    expect(card.locator("#voucher-card-code")).to_have_text(voucher["voucher_code"])
    expect(card.locator("#voucher-title")).to_have_text("Oat latte")
    expect(card.locator("#voucher-holder")).to_have_text("王**")  # masked
    expect(card).not_to_contain_text("王芳")
    valid_until = dt.datetime.fromisoformat(voucher["expires_at"]).astimezone(SCHEME_TZ)
    expect(card.locator("#voucher-valid-until")).to_have_text(f"{valid_until:%Y-%m-%d %H:%M}")
    expect(card.locator("#voucher-status")).to_have_text("reserved")
    expect(code_field).to_be_focused()
    screenshot(page, "merchant-desk")

    presses = tab_to(page, "#confirm-voucher", limit=6)
    assert presses <= 3, f"{presses} presses of Tab from the code to Confirm voucher"
    page.keyboard.press("Enter")

    result = page.locator("#confirm-result")
    expect(result).to_be_visible()
    expect(result).to_contain_text("Voucher confirmed")
    expect(result).to_contain_text(voucher["voucher_code"])
    today = page.locator("#todays-confirmations")
    expect(today).to_contain_text(voucher["voucher_code"])
    expect(today).to_contain_text("Oat latte")
    expect(today.locator("caption")).to_contain_text("1 voucher, 120 points")
    expect(code_field).to_be_focused()  # ready for the next customer
    expect(code_field).to_have_value("")
    screenshot(page, "merchant-confirmed")

    mine = client.get(f"{REDEMPTIONS}/{voucher['id']}", headers=till["citizen"].headers).json
    assert mine["status"] == "redeemed"

    # The same voucher again: refused in the result, the focus back in the field.
    page.keyboard.type(voucher["voucher_code"])
    page.keyboard.press("Enter")
    refusal = page.locator("#voucher-refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_have_attribute("data-refusal", "already_redeemed")
    expect(page.get_by_role("button", name="Confirm voucher")).to_have_count(0)
    expect(code_field).to_be_focused()


def test_the_scan_button_without_a_camera_says_so_without_an_error(page, till):
    sign_in(page, till["staff"], "/console/desk")
    scan = page.get_by_role("button", name="Scan QR code")
    expect(scan).to_be_visible()
    # The code field takes the focus (autofocus, applied a moment after the load); from it,
    # Tab to the scan button and press it. Headless Chromium here has no camera.
    expect(page.get_by_label("Voucher code")).to_be_focused()
    tab_to(page, "#scan-button", limit=3)
    page.keyboard.press("Enter")
    status = page.locator("#scan-status")
    expect(status).to_contain_text(re.compile("camera", re.I))
    expect(page.locator("#scanner")).to_be_hidden()
    expect(scan).to_be_enabled()  # back to the start: it can be tried again


def test_after_a_camera_failure_the_keyboard_focus_is_not_lost(page, till):
    sign_in(page, till["staff"], "/console/desk")
    expect(page.get_by_label("Voucher code")).to_be_focused()
    tab_to(page, "#scan-button", limit=3)
    page.keyboard.press("Enter")
    expect(page.locator("#scan-status")).to_contain_text(re.compile("camera", re.I))
    focus = page.evaluate("() => document.activeElement.tagName.toLowerCase() + '#'"
                          " + document.activeElement.id")
    assert focus in ("input#voucher-code", "button#scan-button"), focus


# --- contrast ---------------------------------------------------------------------------------

@pytest.mark.allow_console_errors(r"status of 401 .*/console/login")
def test_the_console_sign_in_page_and_the_desk_pass_wcag_aa_contrast(page, till):
    page.goto("/console/login")
    assert_wcag_aa(page, "console sign-in")
    page.get_by_label("Email or phone").fill("nobody@example.test")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()  # the refusal (an error message)
    expect(page.locator("#sign-in-error")).to_be_visible()
    assert_wcag_aa(page, "console sign-in, refused")
    page.get_by_label("Email or phone").fill(till["staff"].email)
    page.get_by_label("Password").fill(till["staff"].password)
    page.get_by_role("button", name="Sign in").click()
    menu(page, "Voucher desk").click()
    assert_wcag_aa(page, "desk")
    page.get_by_label("Voucher code").fill(till["voucher"]["voucher_code"])
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#voucher-card")).to_be_visible()
    assert_wcag_aa(page, "desk with a voucher")
    page.get_by_role("button", name="Confirm voucher").click()
    expect(page.locator("#confirm-result")).to_be_visible()
    assert_wcag_aa(page, "desk after a confirmation")


# --- 4. the reports, with their chart -----------------------------------------------------------

def test_an_auditor_reads_the_reports_with_their_chart(page, client, actors,
                                                       seeded):  # noqa: F811
    citizen, auditor = actors.user("citizen"), actors.user("auditor")
    walk = client.post(ACTIONS, json=trip(recent(3), minutes=30, km=2, mode="walk"),
                       headers=citizen.headers).json
    assert walk["status"] == "credited", walk

    sign_in(page, auditor)
    menu(page, "Reports").click()
    chart = page.locator("#report-chart svg[role='img']")
    expect(chart).to_be_visible()
    expect(page.locator("#report-table tbody tr")).to_have_count(1)
    expect(page.locator("#report-table tbody")).to_contain_text(
        "Public transport and active travel")
    widths = page.locator("#report-chart svg rect[class^='series']").evaluate_all(
        "rects => rects.map(r => r.getBBox().width)")
    assert widths and all(width > 0 for width in widths), widths
    assert_wcag_aa(page, "reports")
    assert_chart_texts_readable(page, "reports by scene")
    screenshot(page, "reports")

    # by week: the same figures on a line (its labels: the test below)
    page.get_by_label("Group by").select_option("week")
    page.get_by_role("button", name="Show report").click()
    expect(page).to_have_url(re.compile(r"group_by=week"))
    expect(page.locator("#report-chart svg[role='img'] path.line")).to_have_count(1)
    expect(page.locator("#report-chart svg[role='img'] circle")).not_to_have_count(0)
    expect(page.locator("#report-table tfoot")).to_contain_text("208")


@pytest.mark.parametrize("group_by", ["day", "week"])
def test_the_report_line_chart_has_readable_labels(page, client, actors, group_by,
                                                   seeded):  # noqa: F811
    citizen, auditor = actors.user("citizen"), actors.user("auditor")
    walk = client.post(ACTIONS, json=trip(recent(3), minutes=30, km=2, mode="walk"),
                       headers=citizen.headers).json
    assert walk["status"] == "credited", walk
    sign_in(page, auditor, f"/console/reports?group_by={group_by}")
    expect(page.locator("#report-chart svg[role='img'] path.line")).to_have_count(1)
    screenshot(page, f"reports-by-{group_by}")
    assert_chart_texts_readable(page, f"reports by {group_by} (the default 30 days)")
