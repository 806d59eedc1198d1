"""Quantifying with a prepared, cached version gives exactly what the definition gave before any
preparation: the same reduction (to the exponent), the same breakdown (every step, every
string), the same reasons, outcome and points, and the same refusal when there is one.

The reference is the old way, kept here: a definition parsed for the call, then the domain's
uncached `check_applicability` and `calculate` (each parameter step and each bound's words
worked out inline). The subject is the service's `quantify_with_version`, whose prepared
version is cached across examples, as it is across the records of a batch."""
from __future__ import annotations

import copy
import datetime as dt
import json
import pathlib
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from carbon_credits.config import get_settings
from carbon_credits.domain import methodology as m
from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.methodology.applicability import BoundCheck, bound_checks
from carbon_credits.domain.vocabulary import WASTE_CATEGORIES
from carbon_credits.services.methodologies import calculation

D = Decimal
UTC = dt.timezone.utc
SEED = pathlib.Path(m.__file__).resolve().parents[2] / "data" / "seed_methodologies.json"
T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _versions() -> dict[str, SimpleNamespace]:
    """Every seeded version (drafts too) as the service sees a stored one, plus variants that
    reach the other rule paths: a refused self-report, a speed bound without a maximum."""
    data = json.loads(SEED.read_text(encoding="utf-8"))
    specs = {f"{e['code']} v{v['version']}": v for e in data["methodologies"] for v in e["versions"]}
    refused = copy.deepcopy(specs["SH-METRO v1"])
    refused["applicability"]["self_report"] = "refused"
    open_ended = copy.deepcopy(specs["SH-BIKESHARE v1"])
    del open_ended["applicability"]["max_speed_kmh"], open_ended["applicability"]["min_distance_km"]
    specs.update({"refused metro": refused, "open-ended bike": open_ended})
    return {name: SimpleNamespace(id=uuid.uuid4(), revision=1, status="approved",
                                  family=spec["family"], parameters=spec["parameters"],
                                  rules=spec["applicability"], daily_cap_mg=None,
                                  daily_cap_g=D(spec.get("daily_cap_g", 1000)),
                                  methodology=SimpleNamespace(code=name))
            for name, spec in specs.items()}


VERSIONS = _versions()


def old_way(version, activity: dict, channel: str) -> tuple:
    """The quantification as it was computed before versions were prepared."""
    definition = m.parse_definition(family=version.family, parameters=version.parameters,
                                    rules=version.rules)
    reasons = m.check_applicability(definition, activity, channel=channel)
    outcome = m.decide(reasons)
    try:
        result = m.calculate(definition, activity)
    except ValidationFailed:
        if outcome != "reject":
            raise
        result = m.Calculation(reduction_g=m.quantise_grams(D(0)), breakdown=[])
    points = m.points_for(result.reduction_g, get_settings().points_per_gram)
    return result.reduction_g, result.breakdown, reasons, outcome, points, version.daily_cap_g


def new_way(version, activity: dict, channel: str) -> tuple:
    q = calculation.quantify_with_version(version=version, activity=activity, channel=channel)
    return q.reduction_g, q.breakdown, q.reasons, q.outcome, q.points, q.daily_cap_g


def _exact(outcome) -> str:
    reduction, breakdown, reasons, decided, points, cap = outcome
    return json.dumps([repr(reduction), breakdown, [r.as_dict() for r in reasons], decided,
                       points, repr(cap)])


def _run(way, *args):
    try:
        return "quantified", _exact(way(*args))
    except ValidationFailed as error:
        return "refused", (type(error).__name__, error.detail, error.errors)
    except ArithmeticError as error:  # NaN compared (never from the API): the same error
        return "raised", (type(error).__name__, str(error))


# --- activities: plausible, at the bounds, and off them ------------------------------------------

amounts = st.one_of(
    st.decimals(min_value=D("0"), max_value=D("200"), places=3),
    st.decimals(min_value=D("0"), max_value=D("1e12"), allow_nan=False, allow_infinity=False),
    st.integers(0, 500),
    st.sampled_from([D("0"), D("0.5"), D("100"), D("100.000001"), D("0.3"), D("-1"), D("1e12"),
                     D("1.0000000000001e12"), D("NaN"), D("Infinity"), True, "5", 2.5, None]))
whole = st.one_of(st.integers(-1, 25), st.sampled_from([D("1"), D("1.0"), D("1.5"), D("2E+0")]),
                  amounts)
windows = st.one_of(
    st.none(),
    st.timedeltas(min_value=dt.timedelta(seconds=-60), max_value=dt.timedelta(hours=30)),
    st.sampled_from([dt.timedelta(0), dt.timedelta(microseconds=1), dt.timedelta(minutes=6),
                     dt.timedelta(hours=1)]))


@st.composite
def activities(draw) -> dict:
    """Shaped like `Submission.activity()`: times and category always, numbers when sent."""
    window = draw(windows)
    activity = {"started_at": None if window is None else T0,
                "ended_at": None if window is None else T0 + window,
                "category": draw(st.one_of(st.sampled_from(WASTE_CATEGORIES),
                                           st.sampled_from([None, "glass ", "EF_paper", 3])))}
    for name, values in (("distance_km", amounts), ("energy_kwh", amounts),
                         ("weight_kg", amounts), ("boardings", whole), ("events", whole),
                         ("consumption", amounts), ("baseline", amounts)):
        if draw(st.booleans()):
            activity[name] = draw(values)
    return activity


@settings(max_examples=1500, deadline=None, database=None)
@given(st.sampled_from(sorted(VERSIONS)), activities(), st.sampled_from(["partner", "app"]))
def test_a_prepared_version_quantifies_exactly_as_the_definition_did(name, activity, channel):
    version = VERSIONS[name]
    assert _run(new_way, version, activity, channel) == _run(old_way, version, activity, channel)


def _within(draw, rules: dict, quantity: str, default: tuple[str, str], places: int = 3):
    low = D(rules.get(f"min_{quantity}", default[0]))
    high = D(rules.get(f"max_{quantity}", default[1]))
    return draw(st.decimals(min_value=low, max_value=high, places=places))


@st.composite
def plausible(draw) -> tuple:
    """A version and an activity inside its bounds: what most operator records look like."""
    name = draw(st.sampled_from(sorted(VERSIONS)))
    version, rules = VERSIONS[name], VERSIONS[name].rules
    activity = {"started_at": None, "ended_at": None, "category": None}
    if version.family == "transit_distance":
        km = _within(draw, rules, "distance_km", ("0.1", "50"))
        speed = _within(draw, rules, "speed_kmh", ("1", "60"), places=1)
        minutes = max(km * 60 / max(speed, D("0.1")), D("0.01"))
        activity.update(started_at=T0, distance_km=km,
                        ended_at=T0 + dt.timedelta(minutes=float(minutes)))
    elif version.family == "transit_boarding":
        activity["boardings"] = int(_within(draw, rules, "boardings", ("1", "5"), places=0))
    elif version.family == "ev_charging":
        activity.update(started_at=T0, ended_at=T0 + dt.timedelta(hours=1),
                        energy_kwh=_within(draw, rules, "energy_kwh", ("1", "100"), places=4))
    elif version.family == "per_event":
        activity["events"] = int(_within(draw, rules, "events", ("1", "5"), places=0))
    elif version.family == "metered_baseline":
        activity.update(consumption=_within(draw, rules, "consumption", ("0", "500")),
                        baseline=draw(st.decimals(min_value=D("0"), max_value=D("500"), places=3)),
                        baseline_basis="test")
    else:
        activity.update(category=draw(st.sampled_from(WASTE_CATEGORIES)),
                        weight_kg=_within(draw, rules, "weight_kg", ("0.05", "50"), places=6))
    return name, activity, draw(st.sampled_from(["partner", "app"]))


@settings(max_examples=1000, deadline=None, database=None)
@given(plausible())
def test_plausible_records_quantify_exactly_as_before(case):
    name, activity, channel = case
    version = VERSIONS[name]
    assert _run(new_way, version, activity, channel) == _run(old_way, version, activity, channel)


@settings(max_examples=500, deadline=None, database=None)
@given(st.sampled_from(["distance_km", "speed_kmh", "boardings", "weight_kg"]),
       st.decimals(min_value=D("0"), max_value=D("1e6"), allow_nan=False),
       st.one_of(st.none(), st.decimals(min_value=D("0"), max_value=D("500"), places=2)),
       st.one_of(st.none(), st.decimals(min_value=D("0"), max_value=D("500"), places=2)))
def test_a_bound_says_what_it_said_when_its_words_were_made_for_every_claim(quantity, value,
                                                                            low, high):
    check = bound_checks({quantity: (low, high)})[0]
    assert check == BoundCheck(quantity, low, high, m.BOUNDED_QUANTITIES[quantity],
                               f"{quantity.rsplit('_', 1)[0]}_out_of_bounds")
    assert check.reason(value) == _old_bound_reason(quantity, value, low, high)


def _old_bound_reason(quantity, value, low, high):
    """applicability._bound_reason as it was (the shown value worked out before comparing)."""
    unit = m.BOUNDED_QUANTITIES[quantity]
    shown = m.quantise_grams(value).normalize() if quantity == "speed_kmh" else value
    code = f"{quantity.rsplit('_', 1)[0]}_out_of_bounds"
    if low is not None and value < low:
        return m.Reason(code, f"{quantity} {shown:f} is below the minimum {low:f} {unit}.",
                        "reject")
    if high is not None and value > high:
        return m.Reason(code, f"{quantity} {shown:f} is above the maximum {high:f} {unit}.",
                        "reject")
    return None


# --- the cache ---------------------------------------------------------------------------------

def _version(status="approved", revision=1, **changes):
    base = VERSIONS["EV-CHARGING-CN v1"]
    return SimpleNamespace(**{**vars(base), "id": uuid.uuid4(), "status": status,
                              "revision": revision, **changes})


def test_a_version_in_force_is_prepared_once_and_a_draft_every_time():
    approved, draft = _version(), _version(status="draft")
    assert calculation.prepared_version(approved) is calculation.prepared_version(approved)
    assert calculation.prepared_version(draft) is not calculation.prepared_version(draft)
    assert calculation.definition_of(approved) is calculation.prepared_version(approved).definition


def test_a_new_revision_or_status_is_prepared_afresh():
    version = _version()
    first = calculation.prepared_version(version)
    version.status = "retired"
    assert calculation.prepared_version(version) is not first
    version.revision, version.parameters = 2, [{**p, "value": "10"} if p["name"] == "EC_ev"
                                               else p for p in version.parameters]
    assert calculation.prepared_version(version).definition.parameters["EC_ev"].value == D("10")
    assert first.definition.parameters["EC_ev"].value == D("20")


def test_breakdowns_of_one_version_share_nothing():
    version = _version()
    activity = {"started_at": T0, "ended_at": T0 + dt.timedelta(hours=1), "category": None,
                "energy_kwh": D("7.5")}
    first = calculation.quantify_with_version(version=version, activity=activity,
                                              channel="partner")
    expected = json.dumps(first.breakdown)
    first.breakdown[0]["value"] = "tampered"
    first.breakdown[0].pop("source")
    second = calculation.quantify_with_version(version=version, activity=activity,
                                               channel="partner")
    assert json.dumps(second.breakdown) == expected
    assert second.reduction_g == D("1353.000")


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_every_version_variant_parses(name):
    assert calculation.prepared_version(VERSIONS[name]).calculator.family.name == \
        VERSIONS[name].family
