"""Strict marshmallow fields shared by every schema."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from marshmallow import ValidationError, fields, validate

from carbon_credits.domain import regions as region_rules
from carbon_credits.domain.errors import ValidationFailed


class StrictDecimal(fields.Decimal):
    """A JSON number only: no booleans, no strings, no NaN/Infinity; kept exact as Decimal."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_nan", False)
        super().__init__(*args, **kwargs)
        # apispec renders Range bounds through this field (Decimal -> "0", an invalid JSON
        # Schema); publish them as JSON numbers instead (metadata wins over field2range).
        for validator in self.validators:
            if isinstance(validator, validate.Range):
                for key, bound in (("minimum", validator.min), ("maximum", validator.max)):
                    if bound is not None:
                        bound = Decimal(bound)
                        self.metadata.setdefault(key, int(bound) if bound == bound.to_integral_value()
                                                 else float(bound))
                if validator.min is not None and not validator.min_inclusive:
                    self.metadata.setdefault("exclusiveMinimum", True)
                if validator.max is not None and not validator.max_inclusive:
                    self.metadata.setdefault("exclusiveMaximum", True)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise ValidationError("Must be a number.")
        return super()._deserialize(value, attr, data, **kwargs)


class GramsString(fields.Field):
    """Grams CO2e rendered as a decimal string with 3 decimals, e.g. "970.000"."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return format(Decimal(value).quantize(Decimal("0.001")), "f")


class AwareDateTime(fields.AwareDateTime):
    """RFC 3339 with an explicit offset; naive times are refused, values come back in UTC."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("format", "iso")
        super().__init__(*args, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Must be an RFC 3339 date-time string with offset.")
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is None:
            raise ValidationError("Must include a UTC offset.")
        try:
            return result.astimezone(dt.timezone.utc)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+08:00 has no UTC equivalent
            raise ValidationError("Out of the supported range.") from None


class StrictBoolean(fields.Boolean):
    """JSON true/false only: 1, 0, "true" and "yes" are refused (1 == True in Python sets)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value

class RegionCode(fields.String):
    """A district's GB/T 2260 code (docs/districts.md): a retired code comes back as its current
    one; anything not in the registry is refused."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("pattern", "^[0-9]{6}$")
        super().__init__(*args, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return region_rules.normalise_region(value)
        except ValidationFailed as error:
            raise ValidationError(error.detail) from None


# OpenAPI examples for password fields: documentation, not credentials.
EXAMPLE_PASSWORD = "correct horse battery"  # nosec B105
EXAMPLE_NEW_PASSWORD = "a new long passphrase"  # nosec B105
