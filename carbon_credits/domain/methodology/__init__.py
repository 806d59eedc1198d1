"""Methodology calculators: exact Decimal quantification with a step-by-step breakdown.

Pure Python. A methodology version is parsed into a `Definition` (family, typed parameters,
applicability rules); `calculate(definition, activity)` returns the reduction in grams CO2e and
the ordered breakdown; `check_applicability(definition, activity, channel=...)` says whether the
claim is acceptable, needs review or must be rejected.

Where things live:
    units.py          unit table, the 60-digit context, the one rounding step, points
    definition.py     Parameter, Rules, Definition; parsing of parameters and rules
    families.py       one class per calculator family, the registry, parse_definition, calculate
    prepared.py       Prepared: a definition's constant parts worked out once per version
    breakdown.py      Calculation and the steps of its breakdown; reading activity numbers
    applicability.py  check_applicability, one check per rule
    reasons.py        Reason and decide
    diff.py           diff_snapshots
This module re-exports the names callers use, so they import from the package only.
"""
from __future__ import annotations

from carbon_credits.domain.errors import Conflict, StaleRevision, ValidationFailed
from carbon_credits.domain.methodology.applicability import check_applicability
from carbon_credits.domain.methodology.breakdown import Calculation, compact, expand
from carbon_credits.domain.methodology.definition import (BOUNDED_QUANTITIES, MAX_EVENTS_PER_DAY,
                                                          PARAMETER_NAME_RE,
                                                          RULE_KEYS, Definition, Parameter,
                                                          RevisionRequired, Rules)
from carbon_credits.domain.methodology.diff import diff_snapshots
from carbon_credits.domain.methodology.families import (DEFAULT_FORMULAS, FAMILIES, INPUTS,
                                                        REGISTRY, Family, calculate,
                                                        count_cap_mg, missing_inputs, parse_definition,
                                                        required_inputs)
from carbon_credits.domain.methodology.prepared import Prepared, prepare
from carbon_credits.domain.methodology.reasons import Reason, decide
from carbon_credits.domain.methodology.units import (CANONICAL_UNIT, ROUNDING_RULE, UNITS, ZERO,
                                                     points_for, quantise_grams)
from carbon_credits.domain.vocabulary import (ACTION_TYPES, CALCULATOR_FAMILIES, CHANNELS, GRAMS,
                                            MAX_PARAMETER_VALUE as MAX_VALUE,
                                            EVERYDAY_SCENES, METERED_UTILITIES, SCOPE_MODES,
                                            SELF_REPORT_POLICIES, SOURCE_STATUSES,
                                            TRANSIT_MODES, VERSION_STATUSES, WASTE_CATEGORIES)

__all__ = [
    # vocabulary and errors, re-exported for callers that read them here
    "ACTION_TYPES", "CALCULATOR_FAMILIES", "CHANNELS", "EVERYDAY_SCENES", "GRAMS", "MAX_VALUE",
    "METERED_UTILITIES", "SCOPE_MODES",
    "SELF_REPORT_POLICIES", "SOURCE_STATUSES", "TRANSIT_MODES", "VERSION_STATUSES",
    "WASTE_CATEGORIES", "Conflict", "StaleRevision", "ValidationFailed",
    # units and rounding
    "CANONICAL_UNIT", "ROUNDING_RULE", "UNITS", "ZERO", "points_for", "quantise_grams",
    # definitions
    "BOUNDED_QUANTITIES", "MAX_EVENTS_PER_DAY", "PARAMETER_NAME_RE", "RULE_KEYS", "Definition", "Parameter",
    "RevisionRequired", "Rules",
    # families
    "DEFAULT_FORMULAS", "FAMILIES", "INPUTS", "REGISTRY", "Family", "calculate", "count_cap_mg",
    "missing_inputs", "parse_definition", "required_inputs", "Calculation", "Prepared",
    "compact", "expand",
    "prepare",
    # applicability and diff
    "Reason", "check_applicability", "decide", "diff_snapshots",
]
