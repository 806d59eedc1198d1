"""The compiled partner-record loader gives exactly what `PartnerRecordSchema().load` gives:
the same loaded dict (same keys in the same order, the same Decimals to the last exponent, the
same aware UTC datetimes) for a valid record, and the same `messages` for an invalid one.

The schema's future check reads `utcnow()`; both sides read one frozen clock, so a timestamp a
microsecond either side of `now + 5 minutes` is judged the same way by both."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import example, given, settings, strategies as st
from marshmallow import ValidationError

from api.partner_records import compile_loader
from api.resources import actions as resource
from carbon_credits.domain.vocabulary import EVERYDAY_SCENES, TRANSIT_MODES, WASTE_CATEGORIES

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, 250_000, tzinfo=dt.timezone.utc)
FIELDS = tuple(resource.PartnerRecordSchema().load_fields)
D = Decimal

# --- values: from each field's domain, its edges, and anything JSON can carry ------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12),
                         st.decimals(allow_nan=False, allow_infinity=False))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)
odd_numbers = st.one_of(
    st.sampled_from([D("NaN"), D("-NaN"), D("sNaN"), D("Infinity"), D("-Infinity"), D("-0"),
                     D("0E-7"), D("1E+400"), D("-1E+400"), 10 ** 40, -(10 ** 40), 1.5, True,
                     False, "12", "1e3"]),
    st.floats(allow_nan=True, allow_infinity=True))
boundaries = st.sampled_from([0, 1, 20, 21, 300, 500, 501, -1, D("0"), D("0.000001"),
                              D("0.0000001"), D("500"), D("500.000000"), D("500.0000001"),
                              D("300.0"), D("300.000001"), D("499.999999"), D("1.1234567"),
                              D("12.5E-5"), D("5E+2"), D("3E+2")])
decimals = st.decimals(min_value=D("-1"), max_value=D("600"), places=None,
                       allow_nan=False, allow_infinity=False)
numbers = st.one_of(boundaries, decimals, st.integers(-5, 600), odd_numbers)


def _instants():
    """Aware instants around NOW (the future edge included), written with various offsets."""
    offsets = st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=8)),
                               dt.timezone(dt.timedelta(hours=-5, minutes=-30)),
                               dt.timezone(dt.timedelta(hours=14))])
    edge = st.sampled_from([dt.timedelta(minutes=5), dt.timedelta(minutes=5, microseconds=1),
                            dt.timedelta(minutes=5, microseconds=-1), dt.timedelta(0),
                            dt.timedelta(hours=-24), dt.timedelta(hours=-24, seconds=-1),
                            dt.timedelta(minutes=-5), dt.timedelta(minutes=-5, seconds=-1)])
    shift = st.one_of(edge, st.timedeltas(min_value=dt.timedelta(days=-3),
                                          max_value=dt.timedelta(hours=1)))
    return st.builds(lambda d, tz: (NOW + d).astimezone(tz), shift, offsets)


def _render(moment: dt.datetime, style: int) -> str:
    text = moment.isoformat()
    if style == 1 and moment.utcoffset() == dt.timedelta(0):
        return text.replace("+00:00", "Z")
    if style == 2:
        return moment.replace(tzinfo=None).isoformat()  # naive
    if style == 3:
        return text.replace("T", " ")
    return text


datetimes = st.one_of(
    st.builds(_render, _instants(), st.integers(0, 3)),
    st.sampled_from(["", "now", "2025-06-01", "2025-06-01T12:00", "2025-13-01T00:00:00+00:00",
                     "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00",
                     "2025-06-01T12:00:00+25:00", "2025-06-01T12:00:00.123456789+00:00",
                     "20250601T120000Z", "2025-06-01T12:00:00\u00a0+00:00"]),
    st.datetimes(timezones=st.just(dt.timezone.utc)).map(str),
    st.datetimes().map(lambda d: d.isoformat()))
printable = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1,
                    max_size=130)
strings = st.one_of(printable, st.text(max_size=70), st.sampled_from(["", " ", "a b", "é"]))


def _choice_of(names) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(tuple(names)), st.text(max_size=8))


DOMAINS = {
    "action_type": _choice_of(resource.TYPE_FIELDS), "mode": _choice_of(TRANSIT_MODES),
    "category": _choice_of(WASTE_CATEGORIES), "occurred_at": datetimes, "started_at": datetimes,
    "ended_at": datetimes, "distance_km": numbers, "boardings": numbers, "energy_kwh": numbers,
    "weight_kg": numbers, "station_id": strings, "external_id": strings,
    "external_ref": strings, "scene": _choice_of(EVERYDAY_SCENES), "events": numbers,
}


@st.composite
def records(draw) -> dict:
    """Each field present or not, from its domain (mostly) or any JSON value; extra keys."""
    record = {}
    for name in draw(st.permutations(FIELDS)):
        presence = draw(st.integers(0, 9))
        if presence < 6:
            record[name] = draw(DOMAINS[name])
        elif presence == 6:
            record[name] = draw(json_values)
    for key in draw(st.lists(st.text(max_size=8), max_size=3)):
        record[key] = draw(json_values)
    return record


VALID_DOMAINS = {
    "mode": st.sampled_from(TRANSIT_MODES), "category": st.sampled_from(WASTE_CATEGORIES),
    "distance_km": st.one_of(st.decimals(min_value=D("0.000001"), max_value=D("500"), places=6),
                             st.integers(1, 500), st.sampled_from([D("500.000000"), D("5E+2")])),
    "energy_kwh": st.one_of(st.decimals(min_value=D("0.1"), max_value=D("300"), places=3),
                            st.integers(1, 300)),
    "weight_kg": st.one_of(st.decimals(min_value=D("0.001"), max_value=D("500"), places=4),
                           st.integers(1, 500)),
    "boardings": st.integers(1, 20),
    "scene": st.sampled_from(EVERYDAY_SCENES), "events": st.integers(1, 100),
    "station_id": st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1,
                          max_size=64),
}


def _field_value(draw, name: str, allowed: bool):
    """Mostly a value the schema accepts; now and then anything of the field's domain."""
    if allowed and name in VALID_DOMAINS and draw(st.integers(0, 9)) < 8:
        return draw(VALID_DOMAINS[name])
    return draw(DOMAINS[name])


@st.composite
def plausible_records(draw) -> dict:
    """Records shaped like each action type's, so the schema-level rules get exercised."""
    action_type = draw(st.sampled_from(tuple(resource.TYPE_FIELDS)))
    allowed = resource.TYPE_FIELDS[action_type]
    end = draw(_instants())
    start = end - draw(st.sampled_from([dt.timedelta(minutes=20), dt.timedelta(hours=24),
                                        dt.timedelta(hours=24, microseconds=1), dt.timedelta(0),
                                        dt.timedelta(minutes=-1), dt.timedelta(seconds=1)]))
    record = {"action_type": action_type, "external_id": draw(printable),
              "external_ref": draw(st.text(min_size=1, max_size=64))}
    if "started_at" in allowed and draw(st.integers(0, 3)) > 0:
        record.update(started_at=start.isoformat(), ended_at=end.isoformat())
    if "started_at" not in record or draw(st.booleans()):
        record["occurred_at"] = (end + draw(st.sampled_from([
            dt.timedelta(0), dt.timedelta(minutes=5), dt.timedelta(minutes=5, microseconds=1),
            dt.timedelta(minutes=-5, microseconds=-1)]))).isoformat()
    for name in sorted(resource.ALL_TYPE_FIELDS - {"started_at", "ended_at"}):
        if (name in allowed and draw(st.integers(0, 5)) > 0) or draw(st.integers(0, 15)) == 0:
            record[name] = _field_value(draw, name, name in allowed)
    return record


# --- the comparison ------------------------------------------------------------------------------

def _outcome(load, record):
    try:
        return "loaded", load(record)
    except ValidationError as error:
        return "refused", error.messages


def _exact(outcome) -> str:
    """Order-, type- and exponent-sensitive: repr of each value, keys in order."""
    kind, payload = outcome
    if kind == "refused":
        return kind + json.dumps(payload)
    return kind + json.dumps([(key, type(value).__name__, repr(value))
                              for key, value in payload.items()])


def assert_same_as_schema(record) -> tuple:
    schema, fast = resource.PartnerRecordSchema(), resource.load_partner_record
    with mock.patch.object(resource, "utcnow", lambda: NOW):
        expected = _outcome(schema.load, record)
        got = _outcome(fast, record)
    assert _exact(got) == _exact(expected), (record, expected, got)
    assert got == expected
    return got


@settings(max_examples=1000, deadline=None, database=None)
@given(records())
@example({"_": "not an object"})
@example({"action_type": "transit", "mode": "metro", "external_id": "a", "external_ref": "b",
          "started_at": "2025-06-01T11:00:00+00:00", "ended_at": "2025-06-01T11:20:00+00:00",
          "distance_km": D("10.5")})
def test_any_record_loads_exactly_as_the_schema_loads_it(record):
    assert_same_as_schema(record)


VALID = [
    {"action_type": "transit", "mode": "metro", "started_at": "2025-06-01T11:00:00+08:00",
     "ended_at": "2025-06-01T11:20:00.5+08:00", "distance_km": D("10.50"), "external_id": "M-1",
     "external_ref": "CARD 1"},
    {"action_type": "transit", "mode": "bus", "occurred_at": "2025-06-01T12:05:00.250000Z",
     "boardings": 1, "external_id": "B-1", "external_ref": "C"},
    {"action_type": "ev_charging", "started_at": "2025-06-01T05:00:00-05:30",
     "ended_at": "2025-06-01T06:00:00-05:30", "energy_kwh": 300, "station_id": "S-1",
     "external_id": "E-1", "external_ref": "C", "occurred_at": "2025-06-01T11:35:00+00:00"},
    {"action_type": "waste_sorting", "category": "paper", "weight_kg": D("0.000001"),
     "station_id": "W", "occurred_at": "2025-05-31T12:00:00+00:00", "external_id": "W-1",
     "external_ref": "C"},
]


@settings(max_examples=1000, deadline=None, database=None)
@given(plausible_records())
@example(VALID[0])
@example(VALID[1])
@example(VALID[2])
@example(VALID[3])
def test_plausible_records_load_exactly_as_the_schema_loads_them(record):
    assert_same_as_schema(record)


@settings(max_examples=300, deadline=None, database=None)
@given(json_values)
def test_any_json_value_as_a_record_is_judged_as_the_schema_judges_it(value):
    assert_same_as_schema(value)               # what the loader itself does with a non-object
    if not isinstance(value, dict):
        assert_same_as_schema({"_": value})    # what the batch handler sends it


def test_the_valid_examples_are_valid_so_the_fast_path_is_compared():
    assert [assert_same_as_schema(record)[0] for record in VALID] == ["loaded"] * len(VALID)


def test_a_schema_the_compiler_cannot_honour_is_refused_when_compiling():
    from marshmallow import EXCLUDE, Schema, fields, post_load

    class Excluding(Schema):
        class Meta:
            unknown = EXCLUDE
        name = fields.String()

    class PostLoading(Schema):
        name = fields.String()

        @post_load
        def _make(self, data, **kwargs):
            return data

    class Handling(Schema):
        name = fields.String()

        def handle_error(self, error, data, **kwargs):
            raise ValueError("handled")

    for schema in (Excluding(), PostLoading(), Handling(),
                   resource.PartnerRecordSchema(many=True)):
        with pytest.raises(TypeError):
            compile_loader(schema)
