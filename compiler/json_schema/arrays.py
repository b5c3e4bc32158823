"""``array`` keywords: prefixItems, items (schema, or draft-2019 array form with
additionalItems), minItems/maxItems, contains/minContains, uniqueItems.

Elements are written in order; position ``i`` uses ``prefixItems[i]`` and later ones
``items`` (any value up to ``max_nesting`` when absent).  ``contains`` counts the elements
that are items *and* match it (``allOf`` of the two): "at least ``minContains``" is a run of
items with that many matching ones among them; ``maxContains`` also needs the items that do
*not* match (``allOf`` of ``items`` and ``not contains``, refused when that complement is not
expressible), so that every element is one or the other and the matching ones are counted
exactly.  Several ``contains`` at once (``allOf``, the internal keyword `ALSO_CONTAINS`), each
"at least one", track which are still unmatched (`witnesses.chain_with_witnesses`).
With ``minItems``/``maxItems``, one chain counts the elements and the matches together
(`_counted_elements_bounded`); ``contains`` with ``prefixItems`` is refused.
``uniqueItems`` is exact when every item comes from a small finite set of values
(enum/const/boolean/null): the arrays are enumerated; otherwise it is refused (unless at
most one item is allowed).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from automask.compiler.json_schema.enum_const import value_node
from automask.compiler.json_schema.internal_keywords import ALSO_CONTAINS
from automask.compiler.json_schema.json_ast import token, whitespace
from automask.compiler.json_schema.witnesses import chain_with_witnesses, subsets
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
    if "contains" in schema or schema.get(ALSO_CONTAINS):
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
    element = ctx.compile(items, f"{pointer}/items", depth - 1 if items is True else depth)
    if prefix or ((low or high is not None) and schema.get(ALSO_CONTAINS)):
        ctx.unsupported("contains", pointer, "next to prefixItems, or several next to minItems/maxItems")
        return _elements([], element, comma, 0, low, high)
    if schema.get(ALSO_CONTAINS):
        return _several_contains(ctx, schema, pointer, depth, items, element, comma)
    least = ctx.count_keyword(schema, "minContains", pointer)
    least = 1 if least is None else least
    most = ctx.count_keyword(schema, "maxContains", pointer)
    if most is not None and most < least:
        return NOTHING
    if least == 0 and most is None:  # every array of items has at least 0 matching ones
        return _elements([], element, comma, 0, low, high)
    matching = ctx.compile({"allOf": [items, schema["contains"]]}, f"{pointer}/contains", depth)
    other = element  # with no upper bound, any item may stand between the counted ones
    if most is not None:
        other = ctx.compile({"allOf": [items, {"not": schema["contains"]}]}, f"{pointer}/maxContains", depth)
    if low or high is not None:
        size = (high if high is not None else low) * ((most + 2) if most is not None else (least + 1))
        if size > MAX_COUNTED_STATES:
            ctx.unsupported("contains", pointer, f"counting elements and matches needs {size} states")
            return _elements([], element, comma, 0, low, high)
        return _counted_elements_bounded(matching, other, comma, least, most, low, high)
    return _counted_elements(matching, other, comma, least, most)


MAX_COUNTED_STATES = 2000
"""Most (elements written, matches) states `_counted_elements_bounded` may spell."""


def _counted_elements_bounded(
    matching: RegexNode,
    other: RegexNode,
    comma: RegexNode,
    least: int,
    most: int | None,
    low: int,
    high: int | None,
) -> RegexNode:
    """`_counted_elements` with ``low`` to ``high`` elements in all (``minItems``/``maxItems``):
    a chain over (elements written, matches so far), the matches capped where they stop
    mattering (at ``least`` without ``most``); once ``low`` elements are written and there is no
    ``high``, the rest is `_counted_elements`' unbounded tail."""
    cap = most + 1 if most is not None else least
    built: dict[tuple[int, int], RegexNode] = {}

    def tail(written: int, matched: int) -> RegexNode:  # no more count bound on the elements
        need = max(least - matched, 0)
        room = None if most is None else most - matched
        if written == 0:
            return _counted_elements(matching, other, comma, need, room)
        return _counted_rest(matching, other, comma, need, room)

    def rest(written: int, matched: int) -> RegexNode:
        key = (written, matched)
        if key in built:
            return built[key]
        if most is not None and matched > most:
            node = NOTHING
        elif high is None and written >= low:
            node = tail(written, matched)
        else:
            done = written >= low and matched >= least
            if high is not None and written == high:
                node = EMPTY if done else NOTHING
            else:
                lead = [comma] if written else []
                options = [EMPTY] if done else []
                options.append(concat([*lead, other, rest(written + 1, matched)]))
                options.append(concat([*lead, matching, rest(written + 1, min(matched + 1, cap))]))
                node = alternation(options)
        built[key] = node
        return node

    return rest(0, 0)


MAX_CONTAINS = 3
"""Most ``contains`` one array may need at once (`ALSO_CONTAINS`): the element chain tracks
which are still unmatched, ``2 ** n`` states (`witnesses.chain_with_witnesses`)."""


def _several_contains(
    ctx: SchemaCompiler,
    schema: dict,
    pointer: str,
    depth: int,
    items: Any,
    element: RegexNode,
    comma: RegexNode,
) -> RegexNode:
    """Elements of which, for each ``contains`` (``contains`` and `ALSO_CONTAINS`, each "at
    least one"), at least one matches: every element is its plain version (``element``) or
    one meeting a set of them (``allOf`` of ``items`` and those ``contains``)."""
    wanted = list(schema[ALSO_CONTAINS])
    if "contains" in schema:
        if schema.get("minContains", 1) != 1 or "maxContains" in schema:
            ctx.unsupported("contains", pointer, "several at once, one with counts")
            return _elements([], element, comma, 0, 0, None)
        wanted.insert(0, schema["contains"])
    if len(wanted) > MAX_CONTAINS:
        ctx.unsupported("contains", pointer, f"more than {MAX_CONTAINS} at once")
        return _elements([], element, comma, 0, 0, None)
    full = (1 << len(wanted)) - 1
    versions = {0: element}
    for chosen in subsets(full)[1:]:
        matched = [sub for index, sub in enumerate(wanted) if chosen >> index & 1]
        node = ctx.compile({"allOf": [items, *matched]}, f"{pointer}/contains", depth)
        if node != NOTHING:
            versions[chosen] = node
    return chain_with_witnesses([], [], versions, comma, len(wanted), full)


def _counted_elements(
    matching: RegexNode, other: RegexNode, comma: RegexNode, least: int, most: int | None
) -> RegexNode:
    """Comma-separated elements, each ``matching`` or ``other``, with ``least`` to ``most``
    (None: no limit) of them ``matching``: the first element, then the rest, each rest
    element after a comma.  Exact for any ``other``; counts exactly when ``other`` and
    ``matching`` are disjoint (``maxContains``)."""

    options: list[RegexNode] = [EMPTY] if least == 0 else []
    options.append(concat([other, _counted_rest(matching, other, comma, least, most)]))
    if most is None or most >= 1:
        later = _counted_rest(matching, other, comma, max(least - 1, 0), None if most is None else most - 1)
        options.append(concat([matching, later]))
    return alternation(options)


def _counted_rest(
    matching: RegexNode, other: RegexNode, comma: RegexNode, least: int, most: int | None
) -> RegexNode:
    """The elements after a first one, each led by a comma, ``least`` to ``most`` of them
    ``matching`` and any number of ``other`` around them."""
    others = repeat(concat([comma, other]), 0, None)
    return concat([others, repeat(concat([comma, matching, others]), least, most)])


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
