"""Every operation of the API document explains itself: a summary and a description, a request
example when it takes a body, a response example when a 2xx answers with one (a binary body, a
PNG or PDF, needs none). The counts are printed (`pytest -s`). Examples are checked for truth
in test_openapi_examples.py."""
from __future__ import annotations

import pytest

METHODS = ("get", "post", "put", "patch", "delete")


def _has_request_example(operation) -> bool:
    content = operation.get("requestBody", {}).get("content", {})
    return any("example" in c or "examples" in c for c in content.values())


def _has_response_example(operation) -> bool:
    return any("example" in c or "examples" in c
               for status, response in operation["responses"].items()
               if status.startswith("2") and isinstance(response, dict)
               for c in response.get("content", {}).values())


def _is_binary(media: dict) -> bool:
    # A PNG or PDF has no example a JSON document could show.
    return media.get("schema", {}).get("format") == "binary"


def _needs_response_example(operation) -> bool:
    return any(status.startswith("2") and isinstance(response, dict)
               and any(not _is_binary(media) for media in response.get("content", {}).values())
               for status, response in operation["responses"].items())


@pytest.fixture(scope="module")
def operations(app):
    with app.test_client() as client:
        spec = client.get("/api/v1/openapi.json").json
    return [(method, path, operation) for path, item in spec["paths"].items()
            for method, operation in item.items() if method in METHODS]


def test_count_operations_with_descriptions_and_examples(operations):
    described = sum(1 for *_, op in operations if op.get("description"))
    with_body = [op for *_, op in operations if "requestBody" in op]
    request_examples = sum(1 for op in with_body if _has_request_example(op))
    with_content = [op for *_, op in operations if _needs_response_example(op)]
    response_examples = sum(1 for op in with_content if _has_response_example(op))
    print(f"\nopenapi: {len(operations)} operations; {described} with a description; "
          f"{request_examples}/{len(with_body)} request bodies with an example; "
          f"{response_examples}/{len(with_content)} response bodies with an example")
    assert (described, request_examples, response_examples) == (
        len(operations), len(with_body), len(with_content))


def test_every_operation_explains_itself(operations):
    gaps = []
    for method, path, operation in operations:
        if not operation.get("summary") or not operation.get("description"):
            gaps.append(f"{method.upper()} {path}: description")
        if "requestBody" in operation and not _has_request_example(operation):
            gaps.append(f"{method.upper()} {path}: request example")
        if _needs_response_example(operation) and not _has_response_example(operation):
            gaps.append(f"{method.upper()} {path}: response example")
    assert gaps == []
