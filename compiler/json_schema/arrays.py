"""``array`` keywords: prefixItems, items (schema, or draft-2019 array form with
additionalItems), minItems/maxItems, contains/minContains, uniqueItems.

Elements are written in order; position ``i`` uses ``prefixItems[i]`` and later ones
``items`` (any value up to ``max_nesting`` when absent).  ``contains`` is compiled when
items are unconstrained: "at least ``minContains`` elements match" needs no complement.
``maxContains`` and ``contains`` combined with item schemas or item counts are refused.
``uniqueItems`` is exact when every item comes from a small finite set of values
(enum/const/boolean/null): the arrays are enumerated; otherwise it is refused (unless at
most one item is allowed).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from automask.compiler.json_schema.enum_const import value_node
from automask.compiler.json_schema.json_ast import token, whitespace
from automask.compiler.regex.ast import EMPTY, NOTHING, RegexNode, alternation, concat, literal, repeat

if TYPE_CHECKING:
    from automask.compiler.json_schema.compile import SchemaCompiler

MAX_UNIQUE_VALUES = 5


def array_node(ctx: SchemaCompiler, schema: dict, pointer: str, depth: int) -> RegexNode:
    options = ctx.options
    prefix = schema.get("prefixItems", [])
    items: Any = schema.get("items", True)
    items_pointer = f"{pointer}/items"
    if isinstance(items, list):  # draft 2019 array form
        prefix, items = items, schema.get("additionalItems", True)
        items_pointer = f"{pointer}/additionalItems"
    if not isinstance(prefix, list):
        raise ctx.error("prefixItems must be an array", f"{pointer}/prefixItems")
    low = ctx.count_keyword(schema, "minItems", pointer) or 0
    high = ctx.count_keyword(schema, "maxItems", pointer)
    if high is not None and low > high:  # no array has that many items (e.g. after an allOf)
        return NOTHING
    comma = token(",", options)
    space = whitespace(options)

    def wrap(body: RegexNode) -> RegexNode:
        return concat([literal("["), space, body, space, literal("]")])

    if schema.get("uniqueItems") is True and not (high is not None and high <= 1):
        values = _finite_values(items) if not prefix else None
        if values is None or len(values) > MAX_UNIQUE_VALUES:
            ctx.unsupported("uniqueItems", pointer, "only for items from a small finite set of values")
        else:
            arrays = []
            for size in range(low, min(len(values), high if high is not None else len(values)) + 1):
                for chosen in itertools.permutations(values, size):
                    parts: list[RegexNode] = []
                    for index, value in enumerate(chosen):
                        parts.extend([comma] if index else [])
                        parts.append(value_node(value, options))
                    arrays.append(wrap(concat(parts)))
            return alternation(arrays)
    if "contains" in schema:
        return wrap(_contains_body(ctx, schema, pointer, depth, prefix, items, low, high, comma))
    if "maxContains" in schema or "minContains" in schema:
        pass  # without contains they do nothing
    element_nodes = [
        ctx.compile(sub, f"{pointer}/prefixItems/{index}", depth) for index, sub in enumerate(prefix)
    ]
    rest = ctx.compile(items, items_pointer, depth - 1 if items is True else depth)
    return wrap(_elements(element_nodes, rest, comma, 0, low, high))


def _elements(
    prefix: list[RegexNode], rest: RegexNode, comma: RegexNode, index: int, low: int, high: int | None
) -> RegexNode:
    """Elements from position ``index`` on (positions before it already written)."""
    if high is not None and index >= high:
        return EMPTY
    lead = [comma] if index else []
    if index < len(prefix):
        item = concat([*lead, prefix[index], _elements(prefix, rest, comma, index + 1, low, high)])
        return item if index < low else alternation([EMPTY, item])
    need = max(0, low - index)
    room = None if high is None else high - index
    if rest == NOTHING:
        return EMPTY if need == 0 else NOTHING
    if index:
        return repeat(concat([comma, rest]), need, room)
    chain = concat(
        [rest, repeat(concat([comma, rest]), max(0, need - 1), None if room is None else room - 1)]
    )
    return chain if need else alternation([EMPTY, chain])


def _contains_body(
    ctx: SchemaCompiler,
    schema: dict,
    pointer: str,
    depth: int,
    prefix: list,
    items: Any,
    low: int,
    high: int | None,
    comma: RegexNode,
) -> RegexNode:
    minimum = schema.get("minContains", 1)
    if "maxContains" in schema:
        ctx.unsupported("maxContains", pointer, "needs the complement of the contains schema")
    if prefix or items not in (True, {}) or low or high is not None:
        ctx.unsupported("contains", pointer, "only with unconstrained items and no minItems/maxItems")
        return _elements([], ctx.compile(items, f"{pointer}/items", depth), comma, 0, low, high)
    anything = ctx.compile(True, f"{pointer}/items", depth - 1)
    if minimum == 0:
        return _elements([], anything, comma, 0, 0, None)
    wanted = ctx.compile(schema["contains"], f"{pointer}/contains", depth)
    lead = repeat(concat([anything, comma]), 0, None)
    others = repeat(concat([comma, anything]), 0, None)
    more = repeat(concat([others, comma, wanted]), minimum - 1, minimum - 1)
    return concat([lead, wanted, more, others])


def _finite_values(items: Any) -> list[Any] | None:
    if not isinstance(items, dict):
        return None
    if "const" in items:
        return [items["const"]]
    if (
        "enum" in items
        and isinstance(items["enum"], list)
        and set(items) <= {"enum", "type", "title", "description"}
    ):
        return list(items["enum"]) if "type" not in items else None
    if set(items) - {"title", "description"} == {"type"}:
        kinds = [items["type"]] if isinstance(items["type"], str) else items["type"]
        values: list[Any] = []
        for kind in kinds:
            if kind == "boolean":
                values.extend([True, False])
            elif kind == "null":
                values.append(None)
            else:
                return None
        return values
    return None
