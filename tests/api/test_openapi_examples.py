"""Every example in the live API document is true to its schema: request and response bodies
(`example` and each of `examples`), parameters, headers, and the `example` of a schema or of one
of its properties in `components`. A wrong example (a misspelt or extra field where the schema
forbids extra ones, a number where the schema says string, a bad enum value, a malformed UUID or
timestamp) fails here with the place in the document and the validation error.

Validated with openapi-schema-validator's OpenAPI 3.0 validator (the document declares 3.0.x);
`$ref`s resolve against the document itself, registered as one resource."""
from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote

import pytest
from marshmallow import ValidationError
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry
from referencing.jsonschema import DRAFT4

DOCUMENT_URI = "urn:carbon-credits:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def pointer(*segments) -> str:
    """A JSON pointer (RFC 6901), percent-quoted so it can stand in a URI fragment."""
    return "".join("/" + quote(str(s).replace("~", "~0").replace("/", "~1"), safe="~")
                   for s in segments)


class ExampleCollector:
    """Walks the document and gathers (where the example is, its value, where its schema is)."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.found: list[tuple[tuple, object, tuple | None]] = []

    def collect(self) -> list[tuple[tuple, object, tuple | None]]:
        for path, item in self.spec.get("paths", {}).items():
            self._path_item(item, ("paths", path))
        components = self.spec.get("components", {})
        for name, schema in components.get("schemas", {}).items():
            self._schema(schema, ("components", "schemas", name))
        for kind in ("parameters", "headers"):
            for name, holder in components.get(kind, {}).items():
                self._holder(holder, ("components", kind, name))
        for name, response in components.get("responses", {}).items():
            self._response(response, ("components", "responses", name))
        for name, body in components.get("requestBodies", {}).items():
            self._content(body, ("components", "requestBodies", name))
        return self.found

    def _path_item(self, item: dict, at: tuple) -> None:
        self._parameters(item, at)
        for method in METHODS:
            if method not in item:
                continue
            operation, op_at = item[method], at + (method,)
            self._parameters(operation, op_at)
            if "requestBody" in operation:
                self._content(operation["requestBody"], op_at + ("requestBody",))
            for status, response in operation.get("responses", {}).items():
                self._response(response, op_at + ("responses", status))

    def _parameters(self, owner: dict, at: tuple) -> None:
        for index, parameter in enumerate(owner.get("parameters", [])):
            self._holder(parameter, at + ("parameters", index))

    def _response(self, response: dict, at: tuple) -> None:
        if "$ref" in response:
            return  # walked where it is defined (components)
        self._content(response, at)
        for name, header in response.get("headers", {}).items():
            self._holder(header, at + ("headers", name))

    def _content(self, owner: dict, at: tuple) -> None:
        if "$ref" in owner:
            return
        for media_type, media in owner.get("content", {}).items():
            self._holder(media, at + ("content", media_type))

    def _holder(self, holder: dict, at: tuple) -> None:
        """A media type, parameter or header object: its examples follow its `schema`."""
        if "$ref" in holder:
            return
        schema_at = at + ("schema",) if "schema" in holder else None
        if schema_at:
            self._schema(holder["schema"], schema_at)
        if "example" in holder:
            self.found.append((at + ("example",), holder["example"], schema_at))
        for name, example in holder.get("examples", {}).items():
            if "$ref" in example:
                example = self._resolve(example["$ref"])
            if "value" in example:
                self.found.append((at + ("examples", name, "value"), example["value"], schema_at))

    def _schema(self, schema, at: tuple) -> None:
        if not isinstance(schema, dict) or "$ref" in schema:
            return
        if "example" in schema:
            self.found.append((at + ("example",), schema["example"], at))
        for name, sub in schema.get("properties", {}).items():
            self._schema(sub, at + ("properties", name))
        for key in ("items", "additionalProperties", "not"):
            self._schema(schema.get(key), at + (key,))
        for key in SUBSCHEMA_LISTS:
            for index, sub in enumerate(schema.get(key, [])):
                self._schema(sub, at + (key, index))

    def _resolve(self, ref: str) -> dict:
        target = self.spec
        for segment in ref.removeprefix("#/").split("/"):
            target = target[segment.replace("~1", "/").replace("~0", "~")]
        return target


def where(example_at: tuple) -> str:
    return "#" + "".join("/" + str(s) for s in example_at)


def example_errors(spec: dict) -> list[str]:
    """One line per example that does not validate against its schema (empty: all true).
    An example with no schema beside it has nothing to contradict: see SCHEMALESS."""
    registry = Registry().with_resource(DOCUMENT_URI, DRAFT4.create_resource(spec))
    problems = []
    for example_at, value, schema_at in ExampleCollector(spec).collect():
        if schema_at is None:
            continue
        validator = OAS30Validator({"$ref": f"{DOCUMENT_URI}#{pointer(*schema_at)}"},
                                   registry=registry, format_checker=oas30_format_checker)
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
            inside = "".join(f"[{p!r}]" for p in error.absolute_path)
            problems.append(f"{where(example_at)}{inside}: {error.message}")
    return problems


# Examples with no schema to check them against, and why. Any other is a gap: give the body
# its schema (a `$ref` to the component the service dumps with).
SCHEMALESS = {
    # The personal-data export is streamed as one document; docs/privacy.md describes its shape.
    "#/paths//api/v1/me/export/get/responses/200/content/application/json/example",
}


@pytest.fixture(scope="module")
def spec(app):
    with app.test_client() as client:
        return client.get("/api/v1/openapi.json").json


def test_the_document_is_openapi_3_0(spec):
    # OAS30Validator below is the right dialect only for a 3.0 document (3.1 is JSON Schema 2020-12)
    assert spec["openapi"].startswith("3.0.")


def test_every_example_validates_against_its_schema(spec):
    found = ExampleCollector(spec).collect()
    assert len(found) >= 100  # the walk reaches the examples (a broken walk would pass vacuously)
    problems = example_errors(spec)
    assert not problems, "examples that contradict their schema:\n" + "\n".join(problems)


def test_every_request_example_loads_through_the_schema_that_parses_it(app):
    """What the document cannot say (a number sent as a string where a strict field wants a
    number, the cross-field rules of `validates_schema`) the marshmallow schema that parses the
    body checks: each request example given with `@blp.arguments` must load, read as the
    service reads JSON (`parse_float=Decimal`, api/jsonbody.py)."""
    loaded, problems = 0, []
    with app.test_request_context():
        for endpoint, view in app.view_functions.items():
            arguments = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
            for argument in arguments:
                if argument.get("in") != "json" or "example" not in argument:
                    continue
                schema = argument["schema"]
                schema = schema() if isinstance(schema, type) else schema
                body = json.loads(json.dumps(argument["example"]), parse_float=Decimal)
                try:
                    schema.load(body)
                    loaded += 1
                except ValidationError as error:
                    problems.append(f"{endpoint}: {error.messages}")
    assert loaded >= 40  # flask-smorest keeps the examples where this looks for them
    assert not problems, "request examples their schema refuses:\n" + "\n".join(problems)


def test_only_known_examples_go_without_a_schema(spec):
    schemaless = {where(example_at) for example_at, _, schema_at in ExampleCollector(spec).collect()
                  if schema_at is None}
    assert schemaless <= SCHEMALESS, "examples without a schema: " + ", ".join(
        sorted(schemaless - SCHEMALESS))


def test_a_wrong_example_is_caught():
    """The check itself: a wrong type, a missing required field, an unknown field where the schema
    forbids them, a bad format and a bad `$ref`d item are each reported with where they are."""
    spec = {"openapi": "3.0.3", "paths": {"/things/{id}": {"get": {"responses": {"200": {
        "description": "OK", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Thing"},
            "example": {"id": "not-a-uuid", "grams": 12, "extra": 1, "at": "2026-12-01 08:00",
                        "parts": [{"name": None}]}}}}}}}},
        "components": {"schemas": {
            "Thing": {"type": "object", "additionalProperties": False, "required": ["name"],
                      "properties": {"id": {"type": "string", "format": "uuid"},
                                     "grams": {"type": "string", "example": "1.000"},
                                     "at": {"type": "string", "format": "date-time"},
                                     "parts": {"type": "array",
                                               "items": {"$ref": "#/components/schemas/Part"}}}},
            "Part": {"type": "object", "properties": {"name": {"type": "string"}},
                     "example": {"name": 3}}}}}
    problems = "\n".join(example_errors(spec))
    body = "#/paths//things/{id}/get/responses/200/content/application/json/example"
    assert f"{body}: 'name' is a required property" in problems
    assert "'extra' was unexpected" in problems
    assert f"{body}['id']: 'not-a-uuid' is not a 'uuid'" in problems
    assert f"{body}['grams']: 12 is not of type 'string'" in problems
    assert f"{body}['at']: '2026-12-01 08:00' is not a 'date-time'" in problems
    assert f"{body}['parts'][0]['name']: None is not of type 'string'" in problems
    assert "#/components/schemas/Part/example['name']: 3 is not of type 'string'" in problems
    assert "#/components/schemas/Thing/properties/grams/example" not in problems
