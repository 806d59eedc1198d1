"""Partner records at bulk speed: a loader compiled once from a marshmallow schema.

`compile_loader(schema)` returns `load(record)`, which gives what `schema.load(record)` gives
(the same loaded dict, or a `ValidationError` with the same `messages`) without the schema's
per-record machinery. A batch of 1000 records no longer pays for error stores, hook lookups
and field dispatch on every record; the schema stays the contract.

How it stays equal to the schema:
- each field gets a fast path for the JSON value it normally sees (a `str`, an `int`, a
  `Decimal` from `parse_float=Decimal`) and plain predicates for its validators;
- anything off the fast path (a wrong type, a value a validator refuses, a missing required
  field) is handed to that field's own `deserialize`, so every error message is the field's;
- unknown keys, the type error of a non-object and the schema-level hooks (`@validates_schema`,
  called directly, after field errors as marshmallow does) follow `Schema._do_load`;
- a schema option or hook the compiler does not know is refused when compiling, not ignored.
tests/unit/test_partner_record_loader.py proves the equality with hypothesis.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Callable, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.error_store import ErrorStore
from marshmallow.exceptions import SCHEMA

from api.fields import AwareDateTime, StrictDecimal

# Off the fast path: the field's own deserialize decides (and words the error).
SLOW = object()
# Integers beyond this are left to the field (str() of a huge int has a digit limit).
FAST_INT_LIMIT = 10 ** 30
UTC = dt.timezone.utc

Loader = Callable[[Any], dict]


@dataclasses.dataclass(frozen=True)
class _FieldPlan:
    data_key: str
    key: str
    field: fields.Field
    convert: Callable[[Any], Any]
    checks: tuple[Callable[[Any], bool], ...]
    skip_when_missing: bool


def _as_str(value):
    return value if type(value) is str else SLOW


def _as_int(value):
    return value if type(value) is int else SLOW


def _as_decimal(value):
    # What Decimal(str(value)) gives for a finite Decimal or a moderate int, without the trip
    # through str; NaN, infinities, booleans and the rest go to the field.
    kind = type(value)
    if kind is Decimal:
        return value if value.is_finite() else SLOW
    if kind is int and -FAST_INT_LIMIT < value < FAST_INT_LIMIT:
        return Decimal(value)
    return SLOW


def _as_aware_utc(value):
    if type(value) is not str:
        return SLOW
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return SLOW
    if parsed.tzinfo is None or parsed.tzinfo.utcoffset(parsed) is None:
        return SLOW
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return SLOW


def _converter(field: fields.Field) -> Callable[[Any], Any]:
    """The fast path of a field's type, or one that always defers to the field."""
    kind = type(field)
    if kind is fields.String:
        return _as_str
    if kind is fields.Integer:
        return _as_int
    if kind is StrictDecimal and field.places is None and not field.allow_nan:
        return _as_decimal
    if kind is AwareDateTime and field.format == "iso" and field.default_timezone is None:
        return _as_aware_utc
    return lambda value: SLOW


def _check(validator) -> Callable[[Any], bool]:
    """A validator as a predicate: True when it accepts the (converted) value."""
    kind = type(validator)
    if kind is validate.OneOf:
        choices = frozenset(validator.choices)
        return choices.__contains__
    if kind is validate.Range:
        return _range_check(validator)
    if kind is validate.Length:
        low, high, equal = validator.min, validator.max, validator.equal
        if equal is not None:
            return lambda value: len(value) == equal
        return lambda value: ((low is None or len(value) >= low)
                              and (high is None or len(value) <= high))
    if kind is validate.Regexp:
        match = validator.regex.match
        return lambda value: match(value) is not None
    return lambda value: _accepts(validator, value)


def _range_check(validator: validate.Range) -> Callable[[Any], bool]:
    low, high = validator.min, validator.max
    low_ok = (lambda v: True) if low is None else (
        (lambda v: v >= low) if validator.min_inclusive else (lambda v: v > low))
    high_ok = (lambda v: True) if high is None else (
        (lambda v: v <= high) if validator.max_inclusive else (lambda v: v < high))
    return lambda value: low_ok(value) and high_ok(value)


def _accepts(validator, value) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def _plan(name: str, field: fields.Field) -> _FieldPlan:
    if field.pre_load or field.post_load:
        raise TypeError(f"field {name}: pre_load/post_load processors are not compiled")
    key = field.attribute or name
    if "." in key:
        raise TypeError(f"field {name}: dotted attributes are not compiled")
    return _FieldPlan(data_key=field.data_key if field.data_key is not None else name, key=key,
                      field=field, convert=_converter(field),
                      checks=tuple(_check(v) for v in field.validators),
                      skip_when_missing=not field.required and field.load_default is missing)


def _refuse_what_is_not_compiled(schema: Schema) -> None:
    """Options and hooks that would make `load` differ from `schema.load`: refused up front."""
    if schema.many or schema.partial or schema.unknown != RAISE:
        raise TypeError("only many=False, partial=False, unknown=RAISE schemas are compiled")
    if schema._hooks[PRE_LOAD] or schema._hooks[POST_LOAD] or schema._hooks[VALIDATES]:
        raise TypeError("pre_load, post_load and @validates hooks are not compiled")
    if type(schema).handle_error is not Schema.handle_error:
        raise TypeError("a custom handle_error is not compiled")


def _schema_hooks(schema: Schema) -> list[Callable]:
    """The schema-level validators to call per record, after field errors as marshmallow does."""
    _refuse_what_is_not_compiled(schema)
    hooks = []
    for attr_name, pass_collection, options in schema._hooks[VALIDATES_SCHEMA]:
        if pass_collection or options.get("pass_original") or not options["skip_on_field_errors"]:
            raise TypeError(f"{attr_name}: only per-record validators that skip on field "
                            "errors are compiled")
        hooks.append(getattr(schema, attr_name))
    return hooks


def _error_keys(schema: Schema) -> dict[str, str]:
    """Where `Schema._run_validator` files an error raised for a field name: its data key."""
    keys = {SCHEMA: SCHEMA}
    for name, field in {**schema.declared_fields, **schema.fields}.items():
        keys[name] = field.data_key if field.data_key is not None else name
    return keys


def compile_loader(schema: Schema) -> Loader:
    """`load(record)`: what `schema.load(record)` returns or raises, compiled once."""
    plans = tuple(_plan(name, field) for name, field in schema.load_fields.items())
    known = frozenset(plan.data_key for plan in plans)
    hooks = _schema_hooks(schema)
    error_keys = _error_keys(schema)
    type_message = schema.error_messages["type"]
    unknown_message = schema.error_messages["unknown"]
    new_dict = schema.dict_class

    def load(record: Any) -> dict:
        if not isinstance(record, Mapping):
            raise ValidationError({SCHEMA: [type_message]}, data=record, valid_data=new_dict())
        result, errors = new_dict(), {}
        for plan in plans:
            value = _load_field(plan, record, errors)
            if value is not missing:
                result[plan.key] = value
        if not known.issuperset(record):
            for key in set(record) - known:  # marshmallow's own expression: the same order
                errors[key] = [unknown_message]
        if not errors:
            errors = _run_hooks(hooks, result, error_keys, schema)
        if errors:
            raise ValidationError(errors, data=record, valid_data=result)
        return result

    return load


def _load_field(plan: _FieldPlan, record: Mapping, errors: dict):
    """The field's loaded value, or `missing` (absent, or its error put in `errors`)."""
    raw = record.get(plan.data_key, missing)
    if raw is missing and plan.skip_when_missing:
        return missing
    value = SLOW if raw is missing else plan.convert(raw)
    if value is not SLOW:
        for check in plan.checks:
            if not check(value):
                break
        else:
            return value
    try:
        return plan.field.deserialize(raw, plan.data_key, record)
    except ValidationError as error:
        errors[plan.data_key] = error.messages
        return missing


def _run_hooks(hooks: list[Callable], result: dict, error_keys: Mapping[str, str],
               schema: Schema) -> dict:
    """Schema-level validators, their errors filed as `Schema._run_validator` files them."""
    store = None
    for hook in hooks:
        try:
            hook(result, partial=schema.partial, many=False, unknown=schema.unknown)
        except ValidationError as error:
            store = store or ErrorStore()
            store.store_error(error.messages, error_keys.get(error.field_name, error.field_name))
    return store.errors if store else {}
