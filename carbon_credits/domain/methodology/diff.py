"""What changed between two methodology version snapshots, field by field."""
from __future__ import annotations

from typing import Any, Mapping


def diff_snapshots(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict]:
    """Field-by-field changes from snapshot `a` to `b`; parameters are compared by name."""
    changes: list[dict] = []
    for key in sorted(set(a) | set(b)):
        if key == "parameters":
            changes += _parameter_changes(a.get(key) or [], b.get(key) or [])
        elif key == "applicability":
            changes += _rule_changes(a.get(key) or {}, b.get(key) or {})
        elif a.get(key) != b.get(key):
            changes.append(_changed(key, a.get(key), b.get(key)))
    return changes


def _changed(field: str, before: Any, after: Any) -> dict:
    return {"field": field, "change": "changed", "from": before, "to": after}


def _parameter_changes(a: list[Mapping], b: list[Mapping]) -> list[dict]:
    """Parameters matched by name: added, removed, or changed attribute by attribute."""
    pa = {p["name"]: p for p in a}
    pb = {p["name"]: p for p in b}
    changes: list[dict] = []
    for name in sorted(set(pa) | set(pb)):
        if name not in pb:
            changes.append({"field": f"parameters.{name}", "change": "removed",
                            "from": pa[name], "to": None})
        elif name not in pa:
            changes.append({"field": f"parameters.{name}", "change": "added",
                            "from": None, "to": pb[name]})
        else:
            changes += [_changed(f"parameters.{name}.{attr}", pa[name].get(attr),
                                 pb[name].get(attr))
                        for attr in sorted(set(pa[name]) | set(pb[name]))
                        if pa[name].get(attr) != pb[name].get(attr)]
    return changes


def _rule_changes(a: Mapping, b: Mapping) -> list[dict]:
    return [_changed(f"applicability.{rule}", a.get(rule), b.get(rule))
            for rule in sorted(set(a) | set(b)) if a.get(rule) != b.get(rule)]
