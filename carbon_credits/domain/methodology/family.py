"""The calculator family base class: what a family declares (action type, inputs, parameters,
rules, formula) and the checks and calculation every family shares. The families are in
`families.py` and `city_families.py`; the registry that names them in `families.py`."""
from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any, ClassVar, Mapping

from carbon_credits.domain.methodology.breakdown import Calculation, ParameterStep, Steps
from carbon_credits.domain.methodology.definition import Definition, Parameter, Rules
from carbon_credits.domain.methodology.reasons import Reason
from carbon_credits.domain.methodology.units import CANONICAL_UNIT, CONTEXT, ZERO, quantise_grams

Needs = tuple[tuple[str, str], ...]  # (parameter name, dimension)
Parameters = Mapping[str, Parameter]


class Family:
    """A calculator family. Subclasses declare the class attributes and `reduce`."""

    name: ClassVar[str]
    action_type: ClassVar[str]
    required_inputs: ClassVar[tuple[str, ...]]
    optional_inputs: ClassVar[tuple[str, ...]] = ()
    formula: ClassVar[str]
    parameters: ClassVar[Needs] = ()
    # Said (after "Family <name> ") when `needed` finds no usable set of parameters.
    unmet: ClassVar[str] = ""

    # Other sets of parameters the family can work from instead of `parameters`.
    alternatives: ClassVar[tuple[Needs, ...]] = ()

    def needed(self, present: set[str]) -> Needs | None:
        """The parameters this family will use, given the names present; None if none fit."""
        if not self.alternatives:
            return self.parameters
        for choice in (self.parameters, *self.alternatives):
            if {name for name, _ in choice} <= present:
                return choice
        return None

    # The family-specific rules (definition.FAMILY_RULES) it takes, and those it needs.
    own_rules: ClassVar[tuple[str, ...]] = ()
    required_rules: ClassVar[tuple[str, ...]] = ()

    def rules_problem(self, rules: Rules) -> str | None:
        """What is wrong with the applicability rules for this family, if anything."""
        present = rules.family_rules()
        foreign = sorted(present - set(self.own_rules))
        if foreign:
            return f"{', '.join(foreign)}: not a rule of family {self.name}."
        missing = [name for name in self.required_rules if name not in present]
        if missing:
            return f"Family {self.name} needs applicability.{missing[0]}."
        return None

    def count_cap_mg(self, definition: Definition) -> int | None:
        """A daily cap the family derives from the definition (milligrams), if it has one."""
        return None

    def bounds_problem(self, parsed: Parameters) -> str | None:
        """What is wrong with the parameter values beyond their units, if anything."""
        return None

    def parameter_problem(self, parsed: Parameters) -> str | None:
        """The one error on a version's parameters as a whole, or None if the family can use
        them: a needed one missing or in the wrong dimension (the last such is named), a value
        out of bounds, or a parameter it would not use."""
        needed = self.needed(set(parsed))
        if needed is None:
            return f"Family {self.name} {self.unmet}."
        problem = None
        for name, dimension in needed:
            if name not in parsed:
                problem = f"Family {self.name} needs parameter {name}."
            elif parsed[name].dimension != dimension:
                problem = (f"{name} has unit {parsed[name].unit}; needs a "
                           f"{CANONICAL_UNIT[dimension]} unit.")
        if problem is None:
            problem = self.bounds_problem(parsed)
        unused = set(parsed) - {name for name, _ in needed}
        if problem is None and unused:
            problem = f"Unused parameter(s) for {self.name}: " + ", ".join(sorted(unused)) + "."
        return problem

    def reduce(self, params: Parameters, activity: Mapping[str, Any], steps: Steps) -> Decimal:
        """ER in grams before the floor at zero and the rounding, each step recorded."""
        raise NotImplementedError

    def calculate(self, definition: Definition, activity: Mapping[str, Any],
                  parameter_steps: Mapping[str, ParameterStep] | None = None) -> Calculation:
        """The reduction in grams CO2e (quantised to 0.001) and every step that produced it."""
        steps = Steps(parameter_steps)
        with localcontext(CONTEXT):
            er = max(self.reduce(definition.parameters, activity, steps), ZERO)
        return steps.result(quantise_grams(er))

    def coverage_reason(self, definition: Definition, activity: Mapping[str, Any]) -> Reason | None:
        """A rejection when the methodology does not cover what the activity is about."""
        return None
