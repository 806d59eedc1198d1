"""The merchant desk: look a voucher up by code or QR, confirm it; the day's confirmations and
the settlement.

Lookup and confirmation answer htmx with a fragment for `#voucher-result` and a plain form post
with the whole page (a confirmation then redirects: Post/Redirect/Get). The voucher code is
checked by the API's own schema, so the console refuses exactly what the API refuses (422)."""
from __future__ import annotations

import datetime as dt
import zoneinfo

from flask import g, redirect, render_template, request, session, url_for

from api.console.blueprint import blueprint
from api.console.forms import load_form
from api.console.access import console_page
from api.pages import is_fragment_request
from api.resources.rewards import SettlementArgsSchema, VoucherConfirmSchema
from carbon_credits.config import get_settings
from carbon_credits.domain import vouchers
from carbon_credits.services import rewards as reward_service
from carbon_credits.services.rewards import lookup as voucher_lookup

# The last confirmation, kept in the session across the redirect so the page can show it.
CONFIRMED_KEY = "desk_confirmed"
# The settlement page lists the period's first vouchers; the API pages (or CSVs) the rest.
SETTLEMENT_LINES_SHOWN = 200


@blueprint.app_template_filter("desk_time")
def desk_time(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant in the scheme's time zone, as staff at the till read it."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment.astimezone(zoneinfo.ZoneInfo(get_settings().scheme_timezone)).strftime(fmt)


def _voucher_code() -> str:
    """The submitted code, validated by the API's request schema (same 422 as the API)."""
    data = load_form(VoucherConfirmSchema(), {"voucher_code": request.form.get("voucher_code", "")})
    return data["voucher_code"]


def _desk_page(**context):
    today = voucher_lookup.list_confirmed_today(merchant_user=g.console_user)
    return render_template("console/desk/desk.html", today=today, **context)


@blueprint.get("/desk")
@console_page("rewards.confirm_voucher")
def desk():
    return _desk_page(confirmed=session.pop(CONFIRMED_KEY, None))


@blueprint.post("/desk/lookup")
@console_page("rewards.lookup_voucher")
def desk_lookup():
    """What the voucher is for, for whom (masked), until when, and whether it can be confirmed."""
    voucher = voucher_lookup.lookup_voucher(voucher_code=_voucher_code(),
                                            merchant_user=g.console_user)
    if is_fragment_request():
        return render_template("console/desk/_voucher.html", voucher=voucher)
    return _desk_page(voucher=voucher)


@blueprint.post("/desk/confirm")
@console_page("rewards.confirm_voucher")
def desk_confirm():
    """Honour the voucher, as `POST /api/v1/merchant/redemptions/confirm` does."""
    redemption = reward_service.confirm_redemption(voucher_code=_voucher_code(),
                                                   merchant_user=g.console_user)
    confirmed = {"reward_title": redemption.reward.title, "points": redemption.points,
                 "voucher_code": vouchers.display(redemption.voucher_code),
                 "redeemed_at": redemption.redeemed_at.isoformat()}
    if is_fragment_request():
        today = voucher_lookup.list_confirmed_today(merchant_user=g.console_user)
        return render_template("console/desk/_confirmed.html", confirmed=confirmed, today=today)
    session[CONFIRMED_KEY] = confirmed
    return redirect(url_for("console.desk"), code=303)


def _settlement_range() -> dict:
    """`from`/`to` of the form, checked by the API's schema; none given: this month so far."""
    given = {key: request.args[key] for key in ("from", "to") if request.args.get(key)}
    days = load_form(SettlementArgsSchema(), given)
    if not given:
        days["date_from"] = days["date_to"].replace(day=1)
    return days


@blueprint.get("/settlement")
@console_page("rewards.merchant_settlement")
def settlement():
    days = _settlement_range()
    result = reward_service.get_merchant_settlement(
        merchant_user=g.console_user, date_from=days["date_from"], date_to=days["date_to"])
    lines = reward_service.get_merchant_settlement_lines(
        merchant_user=g.console_user, date_from=days["date_from"], date_to=days["date_to"],
        limit=SETTLEMENT_LINES_SHOWN)
    return render_template("console/desk/settlement.html", settlement=result, lines=lines)
