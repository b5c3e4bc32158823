"""Proofs that no JSON value satisfies two schemas, so that ``oneOf`` can be compiled as ``anyOf``.

``oneOf`` means "exactly one branch", which a union of the branches' languages matches only when
no value satisfies two of them.  The proof is structural and sound, never complete: it answers
"disjoint" only for a reason that holds for every value, and "not proven" otherwise (then the
``oneOf`` is refused).  The reasons:

- a finite side (``enum``/``const``): no value of it satisfies the other side (`InstanceChecker`);
- per JSON type both sides allow, a reason for that type:
  - objects: a property one side requires and the other forbids (``properties: {k: false}``, or
    ``additionalProperties: false`` without ``k`` listed), a property both require with disjoint
    schemas (recursively: a discriminator ``{"kind": {"const": "a"}}``), or more required
    properties than the other's ``maxProperties``;
  - numbers: disjoint ``minimum``/``maximum`` intervals;
  - strings: disjoint length ranges;
- ``allOf``: one part is disjoint from the other side; ``anyOf``/``oneOf``: every branch is.

Comparing the branches' automata would not do: each fixes a member order and omits some
spellings, so disjoint automata do not imply disjoint sets of values.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from automask.compiler.json_schema.enum_const import VALUE_KINDS
from automask.compiler.json_schema.refs import RefError, resolve_ref

if TYPE_CHECKING:
    from automask.compiler.json_schema.compile import SchemaCompiler

MAX_PROOF_DEPTH = 8
"""Nested properties (and ``$ref``s) followed by one proof."""


def branches_disjoint(ctx: SchemaCompiler, branches: list[Any]) -> bool:
    """Whether no JSON value satisfies two of ``branches``."""
    live = [branch for branch in branches if branch is not False]
    return all(
        disjoint(ctx, left, right, 0) for index, left in enumerate(live) for right in live[index + 1 :]
    )


def disjoint(ctx: SchemaCompiler, left: Any, right: Any, depth: int) -> bool:
    """Whether no JSON value satisfies both ``left`` and ``right`` (proven, or False)."""
    if left is False or right is False:
        return True
    if depth > MAX_PROOF_DEPTH or not isinstance(left, dict) or not isinstance(right, dict):
        return False
    left, right = _follow(ctx, left), _follow(ctx, right)
    if left is None or right is None:
        return False
    deeper = depth + 1
    for one, other in ((left, right), (right, left)):
        if any(disjoint(ctx, part, other, deeper) for part in _list(one, "allOf")):
            return True
        for keyword in ("anyOf", "oneOf"):
            branches = _list(one, keyword)
            if branches and all(disjoint(ctx, part, other, deeper) for part in branches):
                return True
        values = _values(one)
        if values is not None:
            satisfying = ctx.values_satisfying(
                values, lambda checker, value, other=other: checker.valid(other, value)
            )
            if satisfying is not None and not satisfying:
                return True
    shared = _kinds(left) & _kinds(right)
    return all(_disjoint_as(ctx, kind, left, right, deeper) for kind in shared)


def _follow(ctx: SchemaCompiler, schema: dict) -> dict | None:
    """``schema`` with a ``$ref`` replaced by ``allOf`` of its target and its siblings."""
    if "$ref" not in schema:
        return schema
    try:
        target, _ = resolve_ref(ctx.root, schema["$ref"])
    except (RefError, TypeError):
        return None
    rest = {key: value for key, value in schema.items() if key != "$ref"}
    return {"allOf": [target, rest]}


def _list(schema: dict, keyword: str) -> list[Any]:
    value = schema.get(keyword, [])
    return value if isinstance(value, list) else []


def _values(schema: dict) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    values = schema.get("enum")
    return values if isinstance(values, list) else None


def _kinds(schema: dict) -> set[str]:
    """The JSON types ``schema`` may allow (``integer`` counted as ``number``)."""
    names = schema.get("type", list(VALUE_KINDS))
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list):
        return set(VALUE_KINDS)
    return {"number" if name == "integer" else name for name in names if isinstance(name, str)}


def _disjoint_as(ctx: SchemaCompiler, kind: str, left: dict, right: dict, depth: int) -> bool:
    if kind == "object":
        return _objects_disjoint(ctx, left, right, depth) or _objects_disjoint(ctx, right, left, depth)
    if kind == "number":
        return _intervals_disjoint(_number_interval(left), _number_interval(right))
    if kind == "string":
        return _intervals_disjoint(_length_interval(left), _length_interval(right))
    return False


def _objects_disjoint(ctx: SchemaCompiler, left: dict, right: dict, depth: int) -> bool:
    required = [name for name in _list(left, "required") if isinstance(name, str)]
    most = right.get("maxProperties")
    if isinstance(most, int) and not isinstance(most, bool) and len(set(required)) > most:
        return True
    other_required = set(_list(right, "required"))
    for name in required:
        if _member_schema(ctx, right, name) is False:
            return True
        if name in other_required:
            mine, theirs = _member_schema(ctx, left, name), _member_schema(ctx, right, name)
            if mine is not None and theirs is not None and disjoint(ctx, mine, theirs, depth):
                return True
    return False


def _member_schema(ctx: SchemaCompiler, schema: dict, name: str) -> Any:
    """The schema a member ``name`` must satisfy, when one schema decides it (else None)."""
    properties = schema.get("properties", {})
    if isinstance(properties, dict) and name in properties:
        return properties[name]
    if schema.get("patternProperties"):
        return None
    return False if ctx.options.strict else schema.get("additionalProperties", True)


def _number_interval(schema: dict) -> tuple[float, bool, float, bool]:
    """(low, low excluded, high, high excluded) from the numeric bounds."""
    low, low_open, high, high_open = -math.inf, False, math.inf, False
    for keyword, is_low, excluded in (
        ("minimum", True, False),
        ("exclusiveMinimum", True, True),
        ("maximum", False, False),
        ("exclusiveMaximum", False, True),
    ):
        bound = schema.get(keyword)
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            continue
        if is_low and (bound > low or (bound == low and excluded)):
            low, low_open = bound, excluded
        elif not is_low and (bound < high or (bound == high and excluded)):
            high, high_open = bound, excluded
    return low, low_open, high, high_open


def _length_interval(schema: dict) -> tuple[float, bool, float, bool]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", math.inf)
    if isinstance(low, bool) or not isinstance(low, (int, float)):
        low = 0
    if isinstance(high, bool) or not isinstance(high, (int, float)):
        high = math.inf
    return low, False, high, False


def _intervals_disjoint(
    left: tuple[float, bool, float, bool], right: tuple[float, bool, float, bool]
) -> bool:
    def before(first: tuple[float, bool, float, bool], second: tuple[float, bool, float, bool]) -> bool:
        high, high_open = first[2], first[3]
        low, low_open = second[0], second[1]
        return high < low or (high == low and (high_open or low_open))

    return before(left, right) or before(right, left)
