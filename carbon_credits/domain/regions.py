"""Suzhou's districts and county-level cities: the regions an action, a citizen, a partner or a
station counts for, and the district a regional admin or auditor is scoped to (docs/districts.md).

Codes are GB/T 2260 administrative division codes, maintained by the Ministry of Civil Affairs
(民政部, http://www.mca.gov.cn/article/sj/xzqh/), as read in reprints and cross-checked in
https://www.csm59.com/a/167556402112988.html (2023-02-05); source notes in
../shared/reference/scenes-and-privacy.md, section 7.

One deliberate exception: 苏州工业园区 (SIP) is a state-level development zone, not a GB/T 2260
division. It is stored under the statistical division code (统计用区划代码, NBS) 320571 and
flagged `statistical`: an assumption, because the city evaluates it as its own area.

A retired code (e.g. 320584, 吴江市 before it became 吴江区 in 2012) is accepted from clients and
stored as the current code: old ID numbers and datasets carry them, and refusing them would only
push the mapping onto every client. Anything else that is not in the registry is refused.
"""
from __future__ import annotations

import dataclasses

from carbon_credits.domain.errors import ValidationFailed

CITY_CODE = "320500"  # 苏州市, the prefecture-level city every region belongs to


@dataclasses.dataclass(frozen=True)
class Region:
    code: str
    name_zh: str
    name_en: str
    kind: str              # district | county_level_city | development_zone
    statistical: bool = False  # True: not a GB/T 2260 division (a statistical code)
    parent: str = CITY_CODE


REGIONS: tuple[Region, ...] = (
    Region("320505", "虎丘区", "Huqiu District (with Suzhou New District, 苏州高新区)", "district"),
    Region("320506", "吴中区", "Wuzhong District", "district"),
    Region("320507", "相城区", "Xiangcheng District", "district"),
    Region("320508", "姑苏区", "Gusu District", "district"),
    Region("320509", "吴江区", "Wujiang District", "district"),
    Region("320571", "苏州工业园区", "Suzhou Industrial Park", "development_zone",
           statistical=True),
    Region("320581", "常熟市", "Changshu", "county_level_city"),
    Region("320582", "张家港市", "Zhangjiagang", "county_level_city"),
    Region("320583", "昆山市", "Kunshan", "county_level_city"),
    Region("320585", "太仓市", "Taicang", "county_level_city"),
)

# Retired code -> the current code it is stored as. The list of retired codes was not checked
# against an official source (assumption): 320584 is the one seen in older lists.
RETIRED_CODES: dict[str, str] = {"320584": "320509"}

REGION_CODES: tuple[str, ...] = tuple(r.code for r in REGIONS)
BY_CODE: dict[str, Region] = {r.code: r for r in REGIONS}

_MESSAGE = ("region must be the 6-digit GB/T 2260 code of one of Suzhou's districts or "
            "county-level cities (e.g. 320505), see GET /api/v1/regions")


def normalise_region(value: object, *, field: str = "region") -> str:
    """The stored code for a region a client sent: a known code as is, a retired one as its
    current code; anything else (not a string of six digits, unknown, 320500 the city itself)
    is a ValidationFailed naming `field`."""
    if isinstance(value, str) and len(value) == 6 and value.isascii() and value.isdigit():
        code = RETIRED_CODES.get(value, value)
        if code in BY_CODE:
            return code
    raise ValidationFailed(_MESSAGE, code="unknown_region", errors={field: [_MESSAGE]})


def optional_region(value: object, *, field: str = "region") -> str | None:
    """As `normalise_region`, with None meaning "no region" (city-wide)."""
    return None if value is None else normalise_region(value, field=field)


def action_region(*, station: str | None, partner: str | None, citizen: str | None) -> str | None:
    """The region an action counts for: its registered station's, else its partner's, else its
    citizen's at the action's instant, else none."""
    return station or partner or citizen
