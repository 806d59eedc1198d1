"""An action stores its breakdown compactly (parameters by name; their values, units and
sources are the version's, immutable once approved) and is shown it whole: expanding what is
stored gives back, byte for byte, the breakdown the calculation wrote."""
from __future__ import annotations

import json

from hypothesis import given, settings

from carbon_credits.domain import methodology as m
from tests.unit.test_prepared_methodology import VERSIONS, plausible


@settings(max_examples=200, deadline=None)
@given(plausible())
def test_expanding_the_stored_breakdown_gives_back_the_computed_one(case):
    name, activity, _channel = case
    version = VERSIONS[name]
    definition = m.parse_definition(family=version.family, parameters=version.parameters,
                                    rules=version.rules)
    computed = m.calculate(definition, activity).breakdown
    stored = m.compact(computed)
    assert json.dumps(m.expand(json.loads(json.dumps(stored)), definition.parameters)) \
        == json.dumps(computed)
    assert len(json.dumps(stored)) < len(json.dumps(computed))
    assert all(set(s) == {"step", "kind", "name"} for s in stored if s["kind"] == "parameter")


def test_a_breakdown_stored_whole_before_compaction_is_shown_as_stored():
    version = VERSIONS["SH-METRO v1"]
    definition = m.parse_definition(family=version.family, parameters=version.parameters,
                                    rules=version.rules)
    whole = [{"step": 1, "kind": "parameter", "name": "EF", "value": "1", "unit": "g",
              "source": "old row", "source_status": "primary"}]
    assert m.expand(whole, definition.parameters) == whole
    assert m.compact(None) is None and m.expand(None, definition.parameters) is None
