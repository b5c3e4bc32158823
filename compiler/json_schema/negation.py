"""The complement of a schema as a union of schemas, keyword by keyword.

A schema is the conjunction of its keywords, so its complement is the union of the keywords'
complements: ``not {required: [a], maxItems: 2}`` is "an object without ``a``, or an array of 3
items or more", each alternative again a plain schema.  A keyword holds vacuously for values of
other types, so its complement only holds values of its own type.  Used by ``not`` (its
operand's complement next to the rest of the schema) and by ``oneOf`` whose branches may
overlap (each branch minus the others).

Complements written here, each exact:

- ``type``: the other types; ``integer`` alone, also the numbers that are not multiples of 1
  (the internal keyword `internal_keywords.NOT_MULTIPLES`);
- ``required``: an object without one of the names (``properties: {k: false}``; every
  non-object satisfies ``required``);
- ``properties``: an object with one of the properties present and its value in the
  property's complement (``{"not": ...}``, reduced again by the ``not`` rules when compiled);
- ``additionalProperties``: an object with a member whose key is neither listed nor matched by a
  pattern and whose value it refuses; ``patternProperties``: a member whose key a pattern matches
  and whose value the pattern's schema refuses; ``propertyNames``: a key its schema refuses
  (each the internal keyword `internal_keywords.SOME_MEMBER`);
- one size, length, count or numeric bound: the bound's type with the complementary bound;
- ``multipleOf``: the numbers that are not multiples of the step (`NOT_MULTIPLES`);
- ``items`` (one schema ``S``, not the array form): an array with an element outside ``S``
  (``contains: {not: S}``); ``contains: C`` (without ``minContains``/``maxContains``): an
  array none of whose elements is ``C`` (``items: {not: C}``), and the same for each schema of the
  internal keyword `internal_keywords.ALSO_CONTAINS`;
- ``enum``/``const`` (at most one object and one array among the values): the other types,
  the other strings (the internal keyword `internal_keywords.NOT_STRINGS`), the numbers in the
  open intervals around the listed ones, the other boolean, the objects that miss a key, have
  another value for one or an extra key, the arrays of another length or with one element
  other;
- ``dependentRequired``/``dependentSchemas``/``dependencies``: an object with a trigger name
  that lacks one of its names or fails its schema (``not``);
- ``pattern``: a string none of whose substrings match (the internal keyword
  `internal_keywords.NOT_PATTERNS`, compiled as a difference of automata);
- ``format``: for an exact one (`formats.EXACT_FORMATS`: date, duration, ipv4, ipv6, uuid),
  the other strings (the internal keyword `internal_keywords.NOT_FORMATS`); a name JSON Schema
  does not define constrains nothing, so its complement is empty;
- ``not``: its operand; ``allOf``: the union of the parts' complements; ``anyOf``: the
  intersection of the branches' complements; ``$ref``: its target's (at most
  `MAX_FOLLOWED_REFS` deep, so a recursive reference is refused).

The numeric complements are over plain numerals (`multiples`): exponent spellings of their
values are not produced, an under-approximation of spellings that keeps every value.

Any other constraining keyword (an inexact ``format``, ``prefixItems``, ``contains`` with
counts, an ``enum`` with several objects or arrays...) makes `complement` return None, and the
caller refuses the schema as before.
"""

from __future__ import annotations

import math
from typing import Any

from automask.compiler.json_schema.enum_const import TYPE_NAMES, VALUE_KINDS, json_type
from automask.compiler.json_schema.formats import EXACT_FORMATS, is_unknown_format
from automask.compiler.json_schema.internal_keywords import (
    ALSO_CONTAINS,
    ALSO_PATTERNS,
    NOT_FORMATS,
    NOT_MULTIPLES,
    NOT_PATTERNS,
    NOT_STRINGS,
    SOME_MEMBER,
)

MAX_FOLLOWED_REFS = 8
"""``$ref``s followed by one complement (a recursive reference has none: refused)."""


def complement(schema: Any, root: Any, depth: int = 0) -> list[Any] | None:
    """Schemas whose union holds exactly the values ``schema`` refuses, or None; ``$ref``s are
    resolved in the document ``root``."""
    from automask.compiler.json_schema.combinators import negated_bound
    from automask.compiler.json_schema.compile import CONSTRAINING

    if depth > MAX_FOLLOWED_REFS:
        return None
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [True]
    if not isinstance(schema, dict):
        return None
    keywords = [key for key in schema if key in CONSTRAINING]  # the rest are annotations
    alternatives: list[Any] = []
    for keyword in keywords:
        value = schema[keyword]
        if keyword == "type":
            found = _other_types(value)
        elif keyword == "required":
            found = _missing_names(value)
        elif keyword == "properties":
            found = _failing_properties(value)
        elif keyword == "additionalProperties":
            found = _unlisted_members(value, schema)
        elif keyword == "patternProperties":
            found = _pattern_members_failing(value)
        elif keyword == "propertyNames":
            found = _key_failing(value)
        elif keyword == "not":
            found = [value]
        elif keyword == "allOf" and isinstance(value, list):
            found = _union_of_complements(value, root, depth)
        elif keyword == "anyOf" and isinstance(value, list):
            found = _intersection_of_complements(value, root, depth)
        elif keyword == "$ref":
            found = _referenced_complement(value, root, depth)
        elif keyword == "pattern" and isinstance(value, str):
            found = [{"type": "string", NOT_PATTERNS: [value]}]
        elif keyword == "format":
            found = _outside_format(value)
        elif keyword == ALSO_CONTAINS and isinstance(value, list):
            found = [{"type": "array", "items": {"not": sub}} for sub in value]
        elif keyword == ALSO_PATTERNS:
            found = [{"type": "string", NOT_PATTERNS: [pattern]} for pattern in value]
        elif keyword == "multipleOf":
            found = _non_multiples(value)
        elif keyword == "items" and isinstance(value, (dict, bool)):
            found = _some_item_failing(value)
        elif keyword == "contains" and not ({"minContains", "maxContains"} & set(schema)):
            found = [{"type": "array", "items": {"not": value}}]
        elif keyword in ("enum", "const"):
            found = _other_values([value] if keyword == "const" else value)
        elif keyword in ("dependentRequired", "dependentSchemas", "dependencies"):
            found = _failing_dependencies(value)
        else:
            bound = negated_bound({keyword: value})
            found = None if bound is None else ([] if bound is False else [bound])
        if found is None:
            return None
        alternatives.extend(found)
    return alternatives


def _other_types(value: Any) -> list[Any] | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(name in TYPE_NAMES for name in names):
        return None
    excluded = set(names) | ({"integer"} if "number" in names else set())
    kept = [name for name in TYPE_NAMES if name not in excluded | {"integer", "number"}]
    found: list[Any] = [{"type": kept}] if kept else []
    if "number" not in excluded:  # every number, or (integers excluded) the non-integral ones
        found.append({"type": "number", NOT_MULTIPLES: [1]} if "integer" in excluded else {"type": "number"})
    return found


def _some_item_failing(items: Any) -> list[Any]:
    """``items: S`` fails on an array with an element outside ``S`` (``contains: not S``)."""
    if items is True or items == {}:
        return []
    return [{"type": "array", "contains": _failing_value(items)}]


def _outside_format(name: Any) -> list[Any] | None:
    """The strings outside format ``name``: none for a name JSON Schema does not define (an
    annotation, it constrains nothing); for an exact format (`formats.EXACT_FORMATS`) the other
    strings (`NOT_FORMATS`); else None (the format's automaton is a strict subset, whose
    complement would hold valid strings)."""
    if not isinstance(name, str):
        return None
    if is_unknown_format(name):
        return []
    return [{"type": "string", NOT_FORMATS: [name]}] if name in EXACT_FORMATS else None


def _non_multiples(step: Any) -> list[Any] | None:
    """``multipleOf`` fails on a number that is not a multiple of ``step`` (every non-number
    satisfies it); None for a malformed step (the regular path reports it)."""
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
        return None
    return [{"type": "number", NOT_MULTIPLES: [step]}]


def _missing_names(value: Any) -> list[Any] | None:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        return None
    if not value:
        return []
    # every non-object satisfies ``required``: the complement holds objects only
    return [{"type": "object", "properties": {name: False}} for name in dict.fromkeys(value)]


def _other_values(values: Any) -> list[Any] | None:
    """The values outside a finite set (at most one object and one array in it): every other
    type, other strings (`NOT_STRINGS`), the numbers strictly between and beyond the listed
    ones (open intervals), the other boolean, other objects and arrays."""
    if not isinstance(values, list):
        return None
    kinds = {"number" if json_type(value) == "integer" else json_type(value) for value in values}
    if any(isinstance(value, float) and not math.isfinite(value) for value in values):
        return None
    objects = [value for value in values if isinstance(value, dict)]
    arrays = [value for value in values if isinstance(value, list)]
    if len(objects) > 1 or len(arrays) > 1:
        return None  # the intersection of several "differs from" unions: not written here
    found: list[Any] = [{"type": [kind for kind in VALUE_KINDS if kind not in kinds]}]
    for value in objects:
        found.extend(_other_object(value))
    for value in arrays:
        found.extend(_other_array(value))
    if "number" in kinds:
        found.extend(
            _open_intervals(sorted({value for value in values if json_type(value) in ("integer", "number")}))
        )
    if "string" in kinds:
        found.append({"type": "string", NOT_STRINGS: [value for value in values if isinstance(value, str)]})
    if "boolean" in kinds:
        others = [flag for flag in (True, False) if not any(value is flag for value in values)]
        found.extend([{"const": others[0]}] if others else [])
    return found


def _other_object(value: dict) -> list[Any]:
    """The objects other than ``value``: one of its keys missing, one present with another
    value, or a key it does not have (`SOME_MEMBER`)."""
    if not value:
        return [{"type": "object", "minProperties": 1}]
    found: list[Any] = [{"type": "object", "properties": {key: False}} for key in value]
    found.extend(
        {"type": "object", "required": [key], "properties": {key: {"not": {"const": member}}}}
        for key, member in value.items()
    )
    found.append(_some_member({"type": "string", NOT_STRINGS: list(value)}, True))
    return found


def _other_array(value: list) -> list[Any]:
    """The arrays other than ``value``: another length, or its length with one element other."""
    size = len(value)
    found: list[Any] = [{"type": "array", "maxItems": size - 1}] if size else []
    found.append({"type": "array", "minItems": size + 1})
    for index, item in enumerate(value):
        prefix = [True] * index + [{"not": {"const": item}}]
        found.append({"type": "array", "minItems": size, "maxItems": size, "prefixItems": prefix})
    return found


def _failing_dependencies(value: Any) -> list[Any] | None:
    """``dependentRequired`` / ``dependentSchemas`` / draft 4-7 ``dependencies`` fail on an
    object that has a trigger name and lacks one of its names, or fails its schema."""
    if not isinstance(value, dict):
        return None
    found: list[Any] = []
    for trigger, needed in value.items():
        if isinstance(needed, list):
            if not all(isinstance(name, str) for name in needed):
                return None
            found.extend(
                {"type": "object", "required": [trigger], "properties": {name: False}}
                for name in dict.fromkeys(needed)
                if name != trigger
            )
        elif needed is False:
            found.append({"type": "object", "required": [trigger]})
        elif isinstance(needed, dict) and needed:
            found.append({"type": "object", "required": [trigger], "not": needed})
        elif needed is not True and needed != {}:
            return None
    return found


def _open_intervals(points: list[Any]) -> list[Any]:
    """The numbers other than ``points`` (sorted, distinct values): the open intervals
    between and beyond them."""
    found: list[Any] = [{"type": "number", "exclusiveMaximum": points[0]}]
    for low, high in zip(points, points[1:], strict=False):
        found.append({"type": "number", "exclusiveMinimum": low, "exclusiveMaximum": high})
    found.append({"type": "number", "exclusiveMinimum": points[-1]})
    return found


def _some_member(keys: Any, value: Any) -> dict:
    """The objects with a member whose key is a string ``keys`` accepts and whose value
    ``value`` accepts (`SOME_MEMBER`)."""
    return {"type": "object", SOME_MEMBER: [{"keys": keys, "value": value}]}


def _failing_value(sub: Any) -> Any:
    """A schema for the values ``sub`` refuses (``{"not": sub}``, or true for ``false``)."""
    return True if sub is False else {"not": sub}


def _unlisted_members(value: Any, schema: dict) -> list[Any] | None:
    """``additionalProperties`` fails on an object with a member whose key neither
    ``properties`` lists nor a ``patternProperties`` pattern matches, and whose value it refuses."""
    if value is True or value == {}:
        return []
    listed = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    if not isinstance(listed, dict) or not isinstance(patterns, dict) or not isinstance(value, (bool, dict)):
        return None
    keys: dict[str, Any] = {"type": "string", NOT_STRINGS: sorted(listed)}
    if patterns:
        keys[NOT_PATTERNS] = list(patterns)
    return [_some_member(keys, _failing_value(value))]


def _pattern_members_failing(value: Any) -> list[Any] | None:
    """``patternProperties`` fails on an object with a member whose key a pattern matches and
    whose value that pattern's schema refuses."""
    if not isinstance(value, dict):
        return None
    return [
        _some_member({"pattern": pattern}, _failing_value(sub))
        for pattern, sub in value.items()
        if sub is not True and sub != {}
    ]


def _key_failing(value: Any) -> list[Any]:
    """``propertyNames`` fails on an object with a key its schema refuses."""
    return [] if value is True or value == {} else [_some_member({"not": value}, True)]


def _failing_properties(value: Any) -> list[Any] | None:
    if not isinstance(value, dict):
        return None
    found: list[Any] = []
    for name, sub in value.items():
        if sub is True or sub == {}:
            continue
        member: Any = {"not": sub} if sub is not False else True
        found.append({"type": "object", "required": [name], "properties": {name: member}})
    return found


def _referenced_complement(ref: Any, root: Any, depth: int) -> list[Any] | None:
    from automask.compiler.json_schema.refs import RefError, resolve_ref

    if not isinstance(ref, str):
        return None
    try:
        target, _ = resolve_ref(root, ref)
    except RefError:
        return None
    return complement(target, root, depth + 1)


def _union_of_complements(parts: list[Any], root: Any, depth: int) -> list[Any] | None:
    found: list[Any] = []
    for part in parts:
        negated = complement(part, root, depth)
        if negated is None:
            return None
        found.extend(negated)
    return found


def _intersection_of_complements(branches: list[Any], root: Any, depth: int) -> list[Any] | None:
    each = []
    for branch in branches:
        negated = complement(branch, root, depth)
        if negated is None:
            return None
        if not negated:
            return []  # one branch holds everything: no value is outside the union
        each.append({"anyOf": negated})
    return [{"allOf": each}] if each else [True]
