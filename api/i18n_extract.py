"""Finding the English messages of errors where they are raised (and the strings marked `N_`),
for the catalog (`make i18n-extract`, babel.cfg) and for the coverage test
(tests/api/test_localisation.py).

Domain errors carry plain English (`raise Conflict("Not enough points.")`), unmarked, so
Babel's own extractor does not see them. This one reads the syntax tree: every call of an
error class (a `DomainError` subclass, or marshmallow's `ValidationError`) with a message as
its first argument or `detail=`, and the messages in its `errors={field: [...]}`, plus each
error class's `title`. An f-string becomes a template, `f"Only {left} points left."` ->
"Only %(left)s points left.", which api/i18n.py matches against the English text at run time.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

ERROR_BASES = {"DomainError", "ValidationFailed", "NotFound", "Conflict", "StaleRevision",
               "AuthenticationFailed", "PermissionDenied", "RateLimited", "ServiceUnavailable",
               "ValidationError"}
# Claim reasons (`reason(code, message)`, `Reason(code, message)`) reach a 422's detail too.
REASON_MAKERS = {"reason", "Reason"}
MARKERS = {"N_"}  # api/i18n.py: an English message the code names but does not raise here
# marshmallow validators given a message of ours (`validate.Regexp(..., error="...")`).
VALIDATORS = {"Regexp", "Length", "Range", "OneOf", "NoneOf", "Equal", "Email", "URL",
              "ContainsOnly", "ContainsNoneOf", "Predicate", "And"}


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def error_classes(tree: ast.AST) -> set[str]:
    """The error classes this module defines on top of the known ones (one level deep is
    enough: ours derive from the domain's directly)."""
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
            and any(_name(base) in ERROR_BASES for base in node.bases)}


def message_template(node: ast.AST) -> str | None:
    """The msgid of a message argument: a constant as it is, an f-string as a template with
    named placeholders; None for anything computed otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    parts, used = [], {}
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value).replace("%", "%%"))
            continue
        source = ast.unparse(value.value)
        name = _name(value.value) or "value"
        if used.get(name, source) != source:
            name = f"{name}{len(used) + 1}"
        used.setdefault(name, source)
        parts.append(f"%({name})s")
    return "".join(parts)


def _messages_of_call(call: ast.Call) -> Iterator[str]:
    if _name(call.func) in MARKERS:
        candidates = list(call.args[:1])
    elif _name(call.func) in VALIDATORS:
        candidates = [k.value for k in call.keywords if k.arg == "error"]
    elif _name(call.func) in REASON_MAKERS:
        candidates = list(call.args[1:2]) + [k.value for k in call.keywords if k.arg == "message"]
    else:
        candidates = list(call.args[:1]) + [k.value for k in call.keywords if k.arg == "detail"]
    for keyword in call.keywords:
        if keyword.arg == "errors" and isinstance(keyword.value, ast.Dict):
            for value in keyword.value.values:
                candidates.extend(value.elts if isinstance(value, (ast.List, ast.Tuple))
                                  else [value])
    for node in candidates:
        message = message_template(node)
        if message and message.strip():
            yield message


def messages_in_source(source: str) -> Iterator[tuple[int, str]]:
    """(line, msgid) of every error message and error title in one module's source."""
    tree = ast.parse(source)
    classes = ERROR_BASES | error_classes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in classes | REASON_MAKERS | MARKERS | VALIDATORS:
            for message in _messages_of_call(node):
                yield node.lineno, message
        elif isinstance(node, ast.ClassDef) and node.name in classes:
            for item in node.body:
                if (isinstance(item, ast.Assign) and len(item.targets) == 1
                        and _name(item.targets[0]) == "title"):
                    title = message_template(item.value)
                    if title:
                        yield item.lineno, title


def extract_error_messages(fileobj, keywords, comment_tags, options):
    """Babel extraction method (babel.cfg, `[extractors]`)."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for lineno, message in messages_in_source(source):
        yield lineno, "", message, []


def messages_in_tree(root: Path, packages: tuple[str, ...] = ("carbon_credits", "api")
                     ) -> dict[str, set[str]]:
    """msgid -> the modules (relative paths) raising it, over the given packages."""
    found: dict[str, set[str]] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            relative = str(path.relative_to(root))
            for _, message in messages_in_source(path.read_text(encoding="utf-8")):
                found.setdefault(message, set()).add(relative)
    return found
