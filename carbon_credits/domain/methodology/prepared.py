"""A methodology version prepared for quantifying many activities: everything that depends on
the definition alone (its family, each parameter's canonical value and breakdown step, the
bounds with the words of their reasons) worked out once, so each activity costs only its own
arithmetic. The service layer caches one per version in force (services/methodologies/
calculation.py). Results are exactly those of `calculate` and `check_applicability` on the
definition (tests/unit/test_prepared_methodology.py compares them)."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from carbon_credits.domain.errors import ValidationFailed
from carbon_credits.domain.methodology.applicability import (BoundCheck, bound_checks,
                                                             check_applicability)
from carbon_credits.domain.methodology.breakdown import Calculation, ParameterStep, parameter_step
from carbon_credits.domain.methodology.definition import Definition
from carbon_credits.domain.methodology.families import Family, family_of
from carbon_credits.domain.methodology.reasons import Reason


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A definition with its constant parts worked out (see the module docstring)."""

    definition: Definition
    family: Family
    parameter_steps: Mapping[str, ParameterStep]
    bounds: tuple[BoundCheck, ...]

    def calculate(self, activity: Mapping[str, Any]) -> Calculation:
        """What `calculate(definition, activity)` gives."""
        return self.family.calculate(self.definition, activity, self.parameter_steps)

    def check_applicability(self, activity: Mapping[str, Any], *, channel: str) -> list[Reason]:
        """What `check_applicability(definition, activity, channel=...)` gives."""
        return check_applicability(self.definition, activity, channel=channel, bounds=self.bounds)


def prepare(definition: Definition) -> Prepared:
    """The version-constant part of every quantification with `definition`."""
    family = family_of(definition)
    if family is None:  # pragma: no cover - parse_definition refuses unknown families
        raise ValidationFailed(f"unknown family {definition.family}")
    return Prepared(definition=definition, family=family,
                    parameter_steps={name: parameter_step(p)
                                     for name, p in definition.parameters.items()},
                    bounds=bound_checks(definition.rules.bounds))
