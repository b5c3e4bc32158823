"""In-place applicators: ``allOf`` (merging), ``anyOf``, ``oneOf``, ``not``.

Regular languages are closed under intersection, but the AST has no intersection node, so
``allOf`` is reduced *at the keyword level* by `merge_schemas`: bounds tighten, ``type`` and
``enum`` intersect, ``required`` unions, per-property schemas nest into ``allOf``,
identical values are kept, two ``pattern``s both apply, ``not A`` and ``not B`` become
``not (A or B)``; a pair that cannot be merged (two different ``patternProperties``, ``oneOf``s,
...) raises `UnsupportedFeature`.

``anyOf`` distributes over its siblings: ``{S, anyOf: [A, B]}`` is ``allOf(S, A) | allOf(S, B)``.
``oneOf`` is compiled as ``anyOf`` when its branches are *provably disjoint*
(`disjoint.branches_disjoint`), otherwise as the union of each branch minus the complements of
those it may overlap (`negation.complement`); when a complement is not expressible it is
refused.  ``not S`` is the rest of the schema merged with the complement of ``S``.

Next to an ``enum`` or ``const`` every applicator is exact: the schema is the finite set of
values, each checked against the applicator by `InstanceChecker` (`filter_values`).
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.json_schema.disjoint import branches_disjoint
from automask.compiler.json_schema.enum_const import TYPE_NAMES, VALUE_KINDS, json_equal
from automask.compiler.json_schema.internal_keywords import (
    ALSO_CONTAINS,
    ALSO_PATTERNS,
    INTERNAL_KEYWORDS,
    NOT_MULTIPLES,
)
from automask.compiler.json_schema.refs import RefError, resolve_ref

if TYPE_CHECKING:
    from collections.abc import Callable

    from automask.compiler.json_schema.compile import SchemaCompiler
    from automask.compiler.json_schema.instance_check import InstanceChecker

_TIGHTEN_MAX = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_TIGHTEN_MIN = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_SCHEMA_VALUED = ("items", "propertyNames", "additionalItems")
_ANNOTATION_KEYS = frozenset(
    ("title", "description", "default", "examples", "$comment", "$schema", "$id", "$defs", "definitions")
)
MAX_INLINED_REFS = 64
MAX_CROSS_BRANCHES = 64


class CannotMerge(Exception):
    def __init__(self, keyword: str, detail: str):
        super().__init__(detail)
        self.keyword = keyword


def _inline_ref(ctx: SchemaCompiler, schema: Any, pointer: str, budget: list[int]) -> Any:
    """``schema`` with a top-level ``$ref`` replaced by (a merge with) its target."""
    while isinstance(schema, dict) and "$ref" in schema:
        budget[0] -= 1
        if budget[0] < 0:
            raise CannotMerge("$ref", "recursive $ref inside allOf needs the CFG engine")
        try:
            target, _ = resolve_ref(ctx.root, schema["$ref"])
        except RefError as error:
            raise CannotMerge("$ref", str(error)) from None
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = merge_schemas(ctx, target, rest, pointer, budget) if rest else target
    return schema


def _contains_counts_owned(schema: Any) -> Any:
    """``schema`` without ``minContains``/``maxContains`` when it has no ``contains`` (they do
    nothing there), so that a merge never applies them to the other side's ``contains``; and
    without its ``contains`` when ``minContains: 0`` with no maximum makes it hold always."""
    if not isinstance(schema, dict):
        return schema
    if "contains" not in schema:
        dropped = ("minContains", "maxContains")
    elif schema.get("minContains") == 0 and "maxContains" not in schema:
        dropped = ("contains", "minContains")
    else:
        return schema
    return {k: v for k, v in schema.items() if k not in dropped} if set(dropped) & set(schema) else schema


def _counted(schema: dict) -> bool:
    """Whether ``schema``'s ``contains`` has counts other than the default "at least one"."""
    return schema.get("minContains", 1) != 1 or "maxContains" in schema


def merge_schemas(
    ctx: SchemaCompiler, left: Any, right: Any, pointer: str, budget: list[int] | None = None
) -> Any:
    """A schema whose instances are those valid under both ``left`` and ``right``."""
    budget = budget if budget is not None else [MAX_INLINED_REFS]
    left = _inline_ref(ctx, left, pointer, budget)
    right = _inline_ref(ctx, right, pointer, budget)
    # unevaluated* depends on what its own schema evaluates: resolve it before merging
    from automask.compiler.json_schema.conditionals import rewrite_unevaluated

    left, right = (
        rewrite_unevaluated(ctx, side, pointer) if isinstance(side, dict) else side for side in (left, right)
    )
    if left is False or right is False:
        return False
    if left is True:
        return right
    if right is True:
        return left
    left, right = _contains_counts_owned(left), _contains_counts_owned(right)
    if "contains" in left and "contains" in right and json_equal(left["contains"], right["contains"]):
        # the same "contains": its counts tighten, an absent minContains being 1 (not "none")
        left = {**left, "minContains": left.get("minContains", 1)}
        right = {**right, "minContains": right.get("minContains", 1)}
    elif "contains" in left and "contains" in right:
        # "some item is A" and "some item is B" is not "some item is A and B": one of them
        # rides along as a separate requirement, when it has no counts of its own
        if _counted(right) and not _counted(left):
            left, right = right, left
        if _counted(right):
            raise CannotMerge("contains", "cannot intersect two different 'contains' values with counts")
        right = {key: value for key, value in right.items() if key != "contains"} | {
            ALSO_CONTAINS: [*right.get(ALSO_CONTAINS, []), right["contains"]]
        }
    merged = dict(left)
    for key, value in right.items():
        if key not in merged:
            merged[key] = value
        elif key in _ANNOTATION_KEYS or json_equal(merged[key], value):
            continue
        elif key in _TIGHTEN_MAX:
            merged[key] = max(merged[key], value)
        elif key in _TIGHTEN_MIN:
            merged[key] = min(merged[key], value)
        elif key == "type":
            merged[key] = _merge_types(merged[key], value)
        elif key == "required":
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        elif key == "enum":
            merged[key] = [item for item in merged[key] if any(json_equal(item, other) for other in value)]
        elif key == "const":
            return False
        elif key == "uniqueItems":
            merged[key] = bool(merged[key]) or bool(value)
        elif key == "multipleOf" and (common := _common_multiple(merged[key], value)) is not None:
            merged[key] = common
        elif key in _SCHEMA_VALUED:
            merged[key] = {"allOf": [merged[key], value]}
        elif key == "allOf":
            merged[key] = [*merged[key], *value]
        elif key == "anyOf" and len(merged[key]) * len(value) <= MAX_CROSS_BRANCHES:
            # (a1 | a2) & (b1 | b2) distributes into the pairwise intersections
            merged[key] = [{"allOf": [a, b]} for a in merged[key] for b in value]
        elif key in INTERNAL_KEYWORDS:  # lists: every constraint listed holds
            merged[key] = [*merged.get(key, []), *value]
        elif key == "pattern":  # both patterns: the second rides along as an internal keyword
            merged[ALSO_PATTERNS] = [*merged.get(ALSO_PATTERNS, []), value]
        elif key == "not":  # not A and not B = not (A or B)
            merged[key] = {"anyOf": [merged[key], value]}
        elif key in ("anyOf", "oneOf"):
            raise CannotMerge(key, f"cannot intersect two different {key!r} values")
        elif key in ("properties", "additionalProperties", "patternProperties"):
            continue  # merged below, together
        else:
            raise CannotMerge(key, f"cannot intersect two different {key!r} values")
    for side, other in ((left, right), (right, left)):
        if (
            "items" in side
            and "prefixItems" in other
            and not json_equal(side.get("prefixItems"), other["prefixItems"])
        ):
            raise CannotMerge("items", "items of one schema and prefixItems of another")
    if any(k in left or k in right for k in ("properties", "additionalProperties", "patternProperties")):
        _merge_properties(left, right, merged)
    if "allOf" in merged and not merged["allOf"]:
        del merged["allOf"]
    return merged


def _allows_other_keys(schema: dict) -> bool:
    """Whether keys outside ``properties`` and ``patternProperties`` are unconstrained."""
    extra = schema.get("additionalProperties", True)
    return extra is True or extra == {}


def _merge_types(left: Any, right: Any) -> list[str]:
    def expand(names: Any) -> set[str]:
        kinds = {names} if isinstance(names, str) else set(names)
        return kinds | ({"integer"} if "number" in kinds else set())

    common = expand(left) & expand(right)
    if "number" in common:
        common.discard("integer")
    return sorted(common)


def _merge_properties(left: dict, right: dict, merged: dict) -> None:
    if (
        "patternProperties" in left
        and "patternProperties" in right
        and not json_equal(left["patternProperties"], right["patternProperties"])
    ):
        if _allows_other_keys(left) and _allows_other_keys(right):
            # Every pattern of either side applies to every key it matches, and no key falls to
            # an additionalProperties: the union of the patterns (one pattern on both sides: both
            # schemas) is the intersection.
            patterns = dict(left["patternProperties"])
            for pattern, schema in right["patternProperties"].items():
                known = patterns.get(pattern)
                patterns[pattern] = (
                    schema if known is None or json_equal(known, schema) else {"allOf": [known, schema]}
                )
            merged["patternProperties"] = patterns
        else:
            raise CannotMerge("patternProperties", "cannot intersect two patternProperties")
    for side, other in ((left, right), (right, left)):
        if (
            "patternProperties" in side
            and ("properties" in other or "additionalProperties" in other)
            and "patternProperties" not in other
            and not (_allows_other_keys(side) and _allows_other_keys(other))
        ):
            # (when both sides let other keys through, each side's keywords constrain only the
            # keys they name or match, in the merged schema as apart: the merge is exact)
            raise CannotMerge("patternProperties", "patternProperties merged with another object schema")
    left_props, right_props = left.get("properties", {}), right.get("properties", {})
    left_extra, right_extra = left.get("additionalProperties", True), right.get("additionalProperties", True)
    properties: dict[str, Any] = {}
    for name in dict.fromkeys([*left_props, *right_props]):
        parts = [left_props.get(name, left_extra), right_props.get(name, right_extra)]
        parts = [part for part in parts if part is not True and part != {}]
        properties[name] = parts[0] if len(parts) == 1 else ({"allOf": parts} if parts else True)
    if properties:
        merged["properties"] = properties
    extras = [part for part in (left_extra, right_extra) if part is not True and part != {}]
    if extras:
        merged["additionalProperties"] = extras[0] if len(extras) == 1 else {"allOf": extras}
    else:
        merged.pop("additionalProperties", None)


def _common_multiple(left: Any, right: Any) -> int | float | None:
    """The least common multiple of two ``multipleOf`` steps (both hold iff it does), or None
    when a step is malformed or the multiple has no exact float spelling (left unmerged)."""
    steps = []
    for value in (left, right):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        steps.append(Fraction(value) if isinstance(value, int) else Fraction(Decimal(repr(value))))
    if all(isinstance(value, int) for value in (left, right)):
        return math.lcm(left, right)
    # lcm(a/b, c/d) = lcm(a, c) / gcd(b, d) for reduced fractions
    a, b = steps
    common = Fraction(math.lcm(a.numerator, b.numerator), math.gcd(a.denominator, b.denominator))
    if common.denominator == 1:
        return int(common)
    spelled = float(common)
    return spelled if Fraction(Decimal(repr(spelled))) == common else None


def reduce_applicators(ctx: SchemaCompiler, schema: dict, pointer: str) -> Any:
    """``schema`` without allOf/anyOf/oneOf/not: a merged dict, a bool, or a list of
    ``(branch, pointer)`` whose union it is."""
    if "allOf" in schema:
        parts = schema["allOf"]
        if not isinstance(parts, list) or not parts:
            raise ctx.error("allOf must be a non-empty array", f"{pointer}/allOf")
        merged: Any = {k: v for k, v in schema.items() if k != "allOf"}
        for index, part in enumerate(parts):
            try:
                merged = merge_schemas(ctx, merged, part, f"{pointer}/allOf/{index}")
            except CannotMerge as error:
                ctx.unsupported("allOf", pointer, f"{error.keyword}: {error}")
            if merged is False:
                return False
        return merged if not isinstance(merged, dict) else reduce_applicators(ctx, merged, pointer)
    for keyword in ("anyOf", "oneOf"):
        if keyword not in schema:
            continue
        branches = schema[keyword]
        if not isinstance(branches, list) or not branches:
            raise ctx.error(f"{keyword} must be a non-empty array", f"{pointer}/{keyword}")
        rest = {k: v for k, v in schema.items() if k != keyword}
        filtered = filter_values(
            ctx,
            rest,
            lambda checker, value, keyword=keyword, branches=branches: (
                checker.count_valid(branches, value) == 1
                if keyword == "oneOf"
                else any(checker.valid(branch, value) for branch in branches)
            ),
        )
        if filtered is not None:
            return reduce_applicators(ctx, filtered, pointer)
        union = []
        for index, branch in enumerate(branches):
            try:
                union.append((merge_schemas(ctx, rest, branch, pointer), f"{pointer}/{keyword}/{index}"))
            except CannotMerge as error:
                ctx.unsupported(keyword, pointer, f"branch {index}: {error.keyword}: {error}")
                union.append((rest, f"{pointer}/{keyword}/{index}"))
        if keyword == "oneOf" and len(union) > 1 and not branches_disjoint(ctx, [b for b, _ in union]):
            exclusive = _exclusive_union(ctx, branches, union)
            if exclusive is not None:
                return exclusive
            ctx.unsupported(
                "oneOf",
                pointer,
                "branches are not provably disjoint (an instance may match several) and their "
                "complements are not expressible",
            )
        return union
    if "not" in schema:
        return _reduce_not(ctx, schema, pointer)
    return schema


def _exclusive_union(
    ctx: SchemaCompiler, branches: list[Any], union: list[tuple[Any, str]]
) -> list[tuple[Any, str]] | None:
    """``oneOf`` type by type: its values of one JSON type are those exactly one branch
    restricted to that type accepts.  Branches proven disjoint on a type are a plain union
    there; elsewhere `_branches_minus_others`.  (Object branches with a shared discriminator
    but no ``type: object`` are disjoint on objects, and every string satisfies all of them.)
    None when some type needs a complement that is not expressible."""
    from automask.compiler.json_schema.negation import complement

    complements = [complement(branch, ctx.root) for branch in branches]  # once, for every type
    result: list[tuple[Any, str]] = []
    for kind in VALUE_KINDS:
        restricted: list[tuple[Any, str]] = []
        for merged, branch_pointer in union:
            try:
                narrowed = (
                    merged if merged is False else merge_schemas(ctx, merged, {"type": kind}, branch_pointer)
                )
            except CannotMerge:
                return None
            if isinstance(narrowed, dict) and narrowed.get("type") == []:
                narrowed = False
            restricted.append((narrowed, branch_pointer))
        live = [branch for branch, _ in restricted if branch is not False]
        if len(live) <= 1 or branches_disjoint(ctx, live):
            result.extend((branch, where) for branch, where in restricted if branch is not False)
            continue
        exclusive = _branches_minus_others(ctx, complements, restricted)
        if exclusive is None:
            return None
        result.extend(exclusive)
    return result if result else [(False, union[0][1])]


def _branches_minus_others(
    ctx: SchemaCompiler, complements: list[list[Any] | None], union: list[tuple[Any, str]]
) -> list[tuple[Any, str]] | None:
    """Each branch minus the branches it may overlap: ``B_i`` and the complement
    (``complements[j]``, None when not expressible) of every ``B_j`` not proven disjoint from
    it, distributed into at most `MAX_CROSS_BRANCHES` merged schemas per branch.  None when a
    needed complement is not expressible, the product is too large, or a merge fails."""
    from automask.compiler.json_schema.disjoint import disjoint

    result: list[tuple[Any, str]] = []
    for index, (merged, branch_pointer) in enumerate(union):
        if merged is False:
            continue
        choices: list[list[Any]] = []
        for other, (other_merged, _) in enumerate(union):
            if other == index or disjoint(ctx, merged, other_merged, 0):
                continue
            negated = complements[other]
            if negated is None:
                return None
            choices.append(negated)
        if math.prod(len(choice) for choice in choices) > MAX_CROSS_BRANCHES:
            return None
        for combination in itertools.product(*choices):
            schema: Any = merged
            try:
                for part in combination:
                    schema = merge_schemas(ctx, schema, part, branch_pointer)
            except CannotMerge:
                return None
            if schema is not False:
                result.append((schema, branch_pointer))
    return result


def filter_values(
    ctx: SchemaCompiler, rest: dict, test: Callable[[InstanceChecker, Any], bool]
) -> dict | None:
    """``rest`` with its ``enum``/``const`` values narrowed to those passing ``test``: how an
    applicator next to a finite set of values is compiled exactly.  None when ``rest`` has no
    values or the checker cannot decide one."""
    if "enum" not in rest and "const" not in rest:
        return None
    values = [rest["const"]] if "const" in rest else rest["enum"]
    if not isinstance(values, list):
        return None  # malformed: the enum keyword reports it
    if "const" in rest and "enum" in rest:
        values = [value for value in values if any(json_equal(value, other) for other in rest["enum"])]
    kept = ctx.values_satisfying(values, test)
    if kept is None:
        return None
    return {**{k: v for k, v in rest.items() if k != "const"}, "enum": kept}


def _reduce_not(ctx: SchemaCompiler, schema: dict, pointer: str) -> Any:
    operand = schema["not"]
    rest = {k: v for k, v in schema.items() if k != "not"}
    filtered = filter_values(ctx, rest, lambda checker, value: not checker.valid(operand, value))
    if filtered is not None:
        return filtered
    if operand is True or operand == {}:
        return False
    if operand is False:
        return rest
    if isinstance(operand, dict) and set(operand) - _ANNOTATION_KEYS == {"type"}:
        excluded = _merge_types(operand["type"], list(TYPE_NAMES))
        allowed = _merge_types(rest.get("type", list(TYPE_NAMES)), list(TYPE_NAMES))
        kept = [kind for kind in allowed if kind not in excluded]
        if "number" in allowed and "integer" in excluded and "number" not in excluded:
            # the numbers left are the non-integral ones: not multiples of 1 (plain numerals)
            return {**rest, "type": kept, NOT_MULTIPLES: [*rest.get(NOT_MULTIPLES, []), 1]}
        return {**rest, "type": kept} if kept else False
    if (
        isinstance(operand, dict)
        and set(operand) - _ANNOTATION_KEYS <= {"enum", "const"}
        and ("enum" in rest or "const" in rest)
    ):
        banned = [operand["const"]] if "const" in operand else list(operand.get("enum", []))
        values = [rest["const"]] if "const" in rest else list(rest["enum"])
        kept = [value for value in values if not any(json_equal(value, other) for other in banned)]
        return {**{k: v for k, v in rest.items() if k != "const"}, "enum": kept}
    if isinstance(operand, dict) and set(operand) - _ANNOTATION_KEYS == {"not"}:  # double negation
        return reduce_applicators(ctx, {"allOf": [rest, operand["not"]]}, pointer)
    negated = negated_bound(operand)
    if negated is False:
        return False
    if negated is not None:  # not {maxItems: 2} = an array of at least 3 items
        return reduce_applicators(ctx, {"allOf": [rest, negated]}, pointer)
    from automask.compiler.json_schema.negation import complement

    alternatives = complement(operand, ctx.root)
    if alternatives is not None:  # not {required: [a]}: an object without a
        if not alternatives:
            return False
        return reduce_applicators(ctx, {"allOf": [rest, {"anyOf": alternatives}]}, pointer)
    ctx.unsupported(
        "not",
        pointer,
        "its operand has no expressible complement (complements exist for type, required, "
        "properties, size and numeric bounds, not, allOf and anyOf of those, and for any operand "
        "next to an enum or const)",
    )
    return rest


_COUNT_COMPLEMENTS = {
    # keyword: (the type it constrains, the complementary keyword, its bound from ours)
    "maxItems": ("array", "minItems", 1),
    "minItems": ("array", "maxItems", -1),
    "maxLength": ("string", "minLength", 1),
    "minLength": ("string", "maxLength", -1),
    "maxProperties": ("object", "minProperties", 1),
    "minProperties": ("object", "maxProperties", -1),
}
_NUMBER_COMPLEMENTS = {
    "maximum": "exclusiveMinimum",
    "minimum": "exclusiveMaximum",
    "exclusiveMaximum": "minimum",
    "exclusiveMinimum": "maximum",
}


def negated_bound(operand: Any) -> dict | bool | None:
    """``not operand`` when ``operand`` is one size or numeric bound: the bound's type with the
    complementary bound (every other type satisfies the bound, so its negation excludes them:
    ``not {maxItems: 2}`` is an array of at least 3 items; ``not {minItems: 0}`` is False).
    None for any other operand, or a malformed bound (the regular path reports it)."""
    if not isinstance(operand, dict):
        return None
    keys = set(operand) - _ANNOTATION_KEYS
    if len(keys) != 1:
        return None
    (keyword,) = keys
    bound = operand[keyword]
    if keyword in _COUNT_COMPLEMENTS:
        if not isinstance(bound, int) or isinstance(bound, bool) or bound < 0:
            return None
        kind, complement, step = _COUNT_COMPLEMENTS[keyword]
        value = bound + step
        return {"type": kind, complement: value} if value >= 0 else False
    if keyword in _NUMBER_COMPLEMENTS:
        if not isinstance(bound, (int, float)) or isinstance(bound, bool):
            return None
        return {"type": "number", _NUMBER_COMPLEMENTS[keyword]: bound}
    return None


def dfas_disjoint(left: ByteDFA, right: ByteDFA) -> bool:
    """Whether no byte string is accepted by both (breadth-first search of the product)."""
    seen = {(left.start, right.start)}
    frontier = [(left.start, right.start)]
    left_table, right_table = left.transitions, right.transitions
    while frontier:
        a, b = frontier.pop()
        if left.accepting[a] and right.accepting[b]:
            return False
        row_a, row_b = left_table[a], right_table[b]
        both = np.nonzero((row_a != DEAD) & (row_b != DEAD))[0]
        for pair in set(zip(row_a[both].tolist(), row_b[both].tolist(), strict=True)):
            if pair not in seen:
                seen.add(pair)
                frontier.append(pair)
    return True
