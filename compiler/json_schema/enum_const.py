"""``enum`` / ``const``: the JSON encodings of a finite set of values.

A value's language is every way of writing it that a JSON parser reads back as an equal
value under JSON-Schema equality: strings with any escapes, numbers in any positional
notation of the same value (``1``, ``1.0``), containers with flexible whitespace, object
members in the order written in the schema.
"""

from __future__ import annotations

import json
from fractions import Fraction

from automask.compiler.json_schema.json_ast import token, whitespace
from automask.compiler.json_schema.keys import strings_in
from automask.compiler.json_schema.numbers import Bound, value_range
from automask.compiler.json_schema.options import JsonSchemaOptions
from automask.compiler.regex.ast import RegexNode, alternation, concat, literal

TYPE_NAMES = ("null", "boolean", "integer", "number", "string", "array", "object")
"""The names ``type`` takes, in the order the compiler emits their alternatives."""

VALUE_KINDS = ("null", "boolean", "number", "string", "array", "object")
"""The kinds of JSON values (an ``integer`` is a ``number``): what a type-by-type argument
ranges over."""


def json_type(value: object) -> str:
    """The JSON-Schema type of a Python JSON value (``integer`` for integral numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def json_equal(left: object, right: object) -> bool:
    """JSON-Schema equality: numbers by value, ``true`` is not ``1``, containers deeply."""
    left_type, right_type = json_type(left), json_type(right)
    numeric = {"integer", "number"}
    if left_type in numeric and right_type in numeric:
        return left == right
    if left_type != right_type:
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))  # type: ignore[arg-type]
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)  # type: ignore[union-attr,index]
    return left == right


def value_node(value: object, options: JsonSchemaOptions) -> RegexNode:
    """Every JSON text that parses to ``value`` (up to JSON-Schema equality)."""
    if value is None or isinstance(value, bool):
        return literal(json.dumps(value))
    if isinstance(value, (int, float)):
        exact = Fraction(value) if isinstance(value, int) else Fraction(repr(value))
        return value_range(Bound(exact, True), Bound(exact, True))
    if isinstance(value, str):
        return strings_in((value,))
    space = whitespace(options)
    if isinstance(value, list):
        items: list[RegexNode] = []
        for index, item in enumerate(value):
            if index:
                items.append(token(",", options))
            items.append(value_node(item, options))
        return concat([literal("["), space, *items, space, literal("]")])
    if isinstance(value, dict):
        members: list[RegexNode] = []
        for index, (key, item) in enumerate(value.items()):
            if index:
                members.append(token(",", options))
            members.extend([strings_in((key,)), token(":", options), value_node(item, options)])
        return concat([literal("{"), space, *members, space, literal("}")])
    raise TypeError(f"not a JSON value: {value!r}")


def values_node(values: list[object], options: JsonSchemaOptions) -> RegexNode:
    """Any one of ``values`` (an empty list is the empty language).  The strings among them
    are one `keys.StringIn` node, whose DFA is built directly as a trie of their spellings."""
    strings = [value for value in values if isinstance(value, str)]
    others = [value_node(value, options) for value in values if not isinstance(value, str)]
    return alternation(([strings_in(strings)] if strings else []) + others)
