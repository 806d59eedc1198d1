"""Plain-language equivalents of a reduction, each with the figure it rests on and its source.

Statuses follow shared/reference/emission-factors.md: `doc`, `press`, `secondary`, or
`scheme_design_choice` (our own choice, with the reason). An equivalent is illustrative: it
never changes what is credited.
"""
from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_EVEN, Decimal


@dataclasses.dataclass(frozen=True)
class Equivalent:
    kind: str
    unit: str
    grams_per_unit: Decimal  # grams CO2e one unit stands for
    description: str
    figure: str  # the published figure, as published
    source: str
    source_status: str
    reasoning: str


EQUIVALENTS: tuple[Equivalent, ...] = (
    Equivalent(
        kind="tree_days",
        unit="tree-days",
        # 0.060 t CO2 per urban tree over 10 years = 60 000 g / 3652.5 days.
        grams_per_unit=(Decimal("60000") / Decimal("3652.5")).quantize(Decimal("0.001")),
        description="days of CO2 uptake by one urban tree",
        figure="0.060 metric ton CO2 per urban tree seedling grown for 10 years",
        source="US EPA Greenhouse Gas Equivalencies Calculator, 'Calculations and References' "
               "(epa.gov/energy/greenhouse-gas-equivalencies-calculator)",
        source_status="secondary",
        reasoning="Scheme design choice of figure: the EPA's is public, stable and conservative "
                  "(a young urban tree absorbs less than a mature one, so the equivalent does "
                  "not overstate the citizen's impact). Spread evenly over 10 x 365.25 days.",
    ),
    Equivalent(
        kind="car_km_avoided",
        unit="km",
        grams_per_unit=Decimal("104"),
        description="kilometres not driven in a small passenger car or taxi",
        figure="EF baseline 0.104 kgCO2 per passenger-km",
        source="DB11/T 3043-2024 (Beijing), baseline factor from the Didi Beijing carpool "
               "project document; shared/reference/emission-factors.md",
        source_status="secondary",
        reasoning="The travel standard's own car baseline, so the equivalent speaks the "
                  "methodologies' language.",
    ),
    Equivalent(
        kind="grid_kwh",
        unit="kWh",
        grams_per_unit=Decimal("530.6"),
        description="kilowatt-hours of average Chinese grid electricity",
        figure="2023 national average grid emission factor 0.5306 kgCO2/kWh",
        source="2023 national average grid factor as reported by Guangming Daily (光明日报); "
               "shared/reference/emission-factors.md",
        source_status="press",
        reasoning="The national average, not a regional figure: the equivalent is for "
                  "citizens anywhere in the scheme.",
    ),
)


def equivalents_for(grams: Decimal) -> list[dict]:
    """Each equivalent of `grams` (1 decimal), with its figure, source and reasoning."""
    result = []
    for eq in EQUIVALENTS:
        value = (grams / eq.grams_per_unit).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
        result.append({"kind": eq.kind, "value": value, "unit": eq.unit,
                       "description": eq.description, "grams_per_unit": eq.grams_per_unit,
                       "figure": eq.figure, "source": eq.source,
                       "source_status": eq.source_status, "reasoning": eq.reasoning})
    return result
