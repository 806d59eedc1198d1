"""A claim in the API document: one schema per action type, combined with `oneOf` and a
`discriminator` on `action_type`, built from the same source as the validation.

The validating schema stays flat (`ActionCreateSchema`, `PartnerRecordSchema` and the compiled
loader of api/partner_records.py are unchanged); the document is generated from it:
- an action type's properties are the schema's fields that `TYPE_FIELDS` allows for it, each
  described exactly as the flat schema's field (apispec's own converter);
- it requires what the schema requires (`action_type`, the scope field, `occurred_at` for a
  type without a time window, `external_id`/`external_ref` for a partner record) and the inputs
  every seeded methodology of the type requires (`required_inputs` of their families), which
  the claim pipeline enforces (422 `missing_inputs` from the app, a rejected record from a
  partner). What one scope needs beyond that is in each operation's `x-required-inputs`.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Mapping

from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from carbon_credits.domain import methodology as method_domain
from carbon_credits.services import methodologies as methodology_service

WINDOW = ("started_at", "ended_at")
_UNIONS: list["ClaimUnion"] = []


def _title(action_type: str) -> str:
    return "".join(part.capitalize() for part in action_type.split("_"))


def seeded_required_inputs(action_type: str) -> set[str]:
    """Inputs every approved seed methodology of the type requires (empty without one)."""
    families = [s["family"] for s in methodology_service.seeded_scopes()
                if s["scope"].split(":", 1)[0] == action_type]
    needed = [set(method_domain.required_inputs(f)["required"]) for f in families]
    return set.intersection(*needed) if needed else set()


def _type_description(action_type: str) -> str:
    lines = [f"An action of type `{action_type}`. Inputs the seeded methodologies need:"]
    for scope in methodology_service.seeded_scopes():
        if scope["scope"].split(":", 1)[0] == action_type:
            needed = method_domain.required_inputs(scope["family"])["required"]
            lines.append(f"- `{scope['scope']}` ({scope['code']}): {', '.join(needed)}")
    if len(lines) == 1:
        lines[0] = (f"An action of type `{action_type}`; the methodology in force for its scope "
                    "says which inputs it needs.")
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class ClaimUnion:
    """The document of one flat claim schema as a discriminated union of its action types."""

    schema: type[Schema]
    name: str                                   # the union's component; types are <Type><name>
    type_fields: Mapping[str, set[str]]         # the fields each action type may carry
    scope_fields: Mapping[str, str]             # the field that names a type's scope
    examples: Mapping[str, dict]                # one valid example per action type
    description: str = ""
    # (component, array property) of request schemas whose items are this union
    lists: tuple[tuple[str, str], ...] = ()

    def component_name(self, action_type: str) -> str:
        return f"{_title(action_type)}{self.name}"

    def ref(self, action_type: str | None = None) -> dict:
        name = self.name if action_type is None else self.component_name(action_type)
        return {"$ref": f"#/components/schemas/{name}"}

    def required(self, action_type: str) -> list[str]:
        fields = self.schema().fields
        allowed = self.type_fields[action_type]
        needed = {name for name, field in fields.items() if field.required}
        if action_type in self.scope_fields:
            needed.add(self.scope_fields[action_type])
        if not set(WINDOW) <= allowed:
            needed.add("occurred_at")  # no window: the action's one instant
        needed |= seeded_required_inputs(action_type) & (allowed | {"occurred_at"})
        if set(WINDOW) <= needed:
            needed.discard("occurred_at")  # the window's end is the instant
        return [name for name in fields if name in needed]

    def properties(self, action_type: str, converter) -> dict:
        """The flat schema's fields a claim of this type may carry, as the schema documents them."""
        typed = set().union(*self.type_fields.values())
        allowed = self.type_fields[action_type]
        properties = {name: converter.field2property(field)
                      for name, field in self.schema().fields.items()
                      if not field.dump_only and (name not in typed or name in allowed)}
        properties["action_type"] = {"type": "string", "enum": [action_type]}
        return properties

    def request_body(self, summary: str) -> dict:
        """`requestBody` of an operation that takes one claim (for `blp.doc`)."""
        return {"required": True, "content": {"application/json": {
            "schema": self.ref(),
            "examples": {t: {"summary": f"{summary}: {t}", "value": copy.deepcopy(e)}
                         for t, e in self.examples.items()}}}}

    def components(self, converter) -> dict[str, dict]:
        out = {}
        for action_type in self.type_fields:
            out[self.component_name(action_type)] = {
                "type": "object", "title": self.component_name(action_type),
                "description": _type_description(action_type),
                "properties": self.properties(action_type, converter),
                "required": self.required(action_type),
                "additionalProperties": False,
                "example": copy.deepcopy(self.examples[action_type])}
        out[self.name] = {
            "description": self.description,
            "oneOf": [self.ref(t) for t in self.type_fields],
            "discriminator": {"propertyName": "action_type",
                              "mapping": {t: self.ref(t)["$ref"] for t in self.type_fields}}}
        return out


def publish(union: ClaimUnion) -> ClaimUnion:
    """Register `union` for every API document built from now on (module import time)."""
    _UNIONS.append(union)
    return union


def register_components(spec) -> None:
    """Add every published union's components to `spec` (once per app)."""
    plugin = next(p for p in spec.plugins if isinstance(p, MarshmallowPlugin))
    for union in _UNIONS:
        for name, component in union.components(plugin.converter).items():
            spec.components.schema(name, component)
        for name, prop in union.lists:
            # The flat schema's list is `fields.Raw()` items (each record is validated alone,
            # api/partner_records.py): its document names the union instead.
            spec.components.schemas[name]["properties"][prop]["items"] = union.ref()
