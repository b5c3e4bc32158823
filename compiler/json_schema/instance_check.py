"""Whether one JSON value satisfies a schema, decided exactly or not at all.

The compiler needs this where a keyword applies to a *finite* set of values: an ``enum`` or
``const`` next to ``not``, ``oneOf``, ``anyOf`` or ``if``.  Such a schema is that set filtered
by the keyword, and a direct check of each value is exact where rewriting the keyword into
others (negating a schema, proving branches disjoint) often is not possible.  It also replaces
checking a value's JSON text on the schema's own grammar, which writes object members in the
schema's order and so refuses a valid value whose keys come in another order.

The semantics are the compiler's: draft 2020-12 keywords plus the older spellings it reads
(array-form ``items`` with ``additionalItems``, ``dependencies``), draft 4's integers when the
document declares it, ``if``/``then``/``else`` only from draft 7 on, ``strict`` (every listed
property required, no other).  Patterns are
matched with the compiler's own automata, so ECMA-262 is read the same way.  A keyword whose
answer could differ from the specification's raises `CannotDecide`: ``unevaluated*``, dynamic
refs, ``format`` other than the exact ones (`formats.EXACT_FORMATS`; the others' automata are
strict subsets of the RFCs), a pattern class whose
Unicode reading may differ on non-ASCII text, recursion deeper than `MAX_DEPTH`.  Callers then
refuse the schema as before.  Never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from automask.compiler.json_schema.enum_const import json_equal, json_type
from automask.compiler.json_schema.formats import EXACT_FORMATS, format_node, is_unknown_format
from automask.compiler.json_schema.internal_keywords import (
    ALSO_CONTAINS,
    ALSO_PATTERNS,
    NOT_FORMATS,
    NOT_MULTIPLES,
    NOT_PATTERNS,
    NOT_STRINGS,
    SOME_MEMBER,
)
from automask.compiler.json_schema.refs import RefError, resolve_ref
from automask.compiler.json_schema.strings import pattern_node
from automask.errors import AutomaskError

if TYPE_CHECKING:
    from automask.compiler.automata.byte_dfa import ByteDFA
    from automask.compiler.json_schema.options import JsonSchemaOptions
    from automask.compiler.limits import CompileLimits
    from automask.compiler.regex.ast import RegexNode

MAX_DEPTH = 64
"""Schema applications nested along one check (``$ref`` cycles that do not consume the value)."""

UNDECIDED = frozenset(
    (
        "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$dynamicAnchor", "$recursiveRef",
        "$recursiveAnchor", "divisibleBy", "disallow", "extends",
    )
)  # fmt: skip


def _exact_format_node(name: str) -> RegexNode:
    node = format_node(name) if name in EXACT_FORMATS else None
    if node is None:
        raise CannotDecide("format", f"format {name!r} has no exact automaton")
    return node


_UNICODE_SENSITIVE = ("\\s", "\\S", ".")
"""Pattern parts whose ECMA-262 meaning on non-ASCII text (Unicode blanks, line terminators)
the compiler's ASCII-class reading may not share."""


def declares_draft(root: Any, *numbers: int) -> bool:
    """Whether the document's ``$schema`` names one of drafts ``numbers`` (3, 4, 6, 7)."""
    dialect = root.get("$schema") if isinstance(root, dict) else None
    return isinstance(dialect, str) and any(f"draft-0{number}" in dialect for number in numbers)


class CannotDecide(Exception):
    """The check met a keyword it does not decide; ``keyword`` names it."""

    def __init__(self, keyword: str, detail: str = ""):
        super().__init__(f"{keyword}: {detail}" if detail else keyword)
        self.keyword = keyword


@dataclass
class InstanceChecker:
    """Checks values against sub-schemas of one document (``root``, for ``$ref``)."""

    root: Any
    options: JsonSchemaOptions
    limits: CompileLimits
    legacy_integers: bool = False
    conditionals_apply: bool = True
    _automata: dict[tuple[str, str], ByteDFA] = field(default_factory=dict)

    @classmethod
    def for_document(cls, root: Any, options: JsonSchemaOptions, limits: CompileLimits) -> InstanceChecker:
        """A checker with the dialect ``root`` declares (draft 4's integers, draft 7's ``if``)."""
        return cls(root, options, limits, declares_draft(root, 3, 4), not declares_draft(root, 3, 4, 6))

    def valid(self, schema: Any, value: Any) -> bool:
        """Whether ``value`` satisfies ``schema``; raises `CannotDecide`."""
        return self._valid(schema, value, 0)

    def count_valid(self, schemas: list[Any], value: Any) -> int:
        return sum(1 for schema in schemas if self._valid(schema, value, 0))

    # -- the walk ---------------------------------------------------------------------

    def _valid(self, schema: Any, value: Any, depth: int) -> bool:
        if depth > MAX_DEPTH:
            raise CannotDecide("$ref", f"schemas nested deeper than {MAX_DEPTH} on one value")
        if schema is True:
            return True
        if schema is False:
            return False
        if not isinstance(schema, dict):
            raise CannotDecide("schema", f"not a schema: {schema!r:.60}")
        for keyword in UNDECIDED:
            if keyword in schema:
                raise CannotDecide(keyword)
        deeper = depth + 1
        if "$ref" in schema and not self._valid(self._target(schema["$ref"]), value, deeper):
            return False
        return (
            self._type_ok(schema, value)
            and self._values_ok(schema, value)
            and self._applicators_ok(schema, value, deeper)
            and self._kind_ok(schema, value, deeper)
        )

    def _target(self, ref: Any) -> Any:
        if not isinstance(ref, str):
            raise CannotDecide("$ref", "not a string")
        try:
            target, _ = resolve_ref(self.root, ref)
        except RefError as error:
            raise CannotDecide("$ref", str(error)) from None
        return target

    def _kind(self, value: Any) -> str:
        kind = json_type(value)
        if kind == "integer" and self.legacy_integers and isinstance(value, float):
            return "number"
        return kind

    def _type_ok(self, schema: dict, value: Any) -> bool:
        if "type" not in schema:
            return True
        names = schema["type"]
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list):
            raise CannotDecide("type", "not a name or a list of names")
        kind = self._kind(value)
        return kind in names or (kind == "integer" and "number" in names)

    def _values_ok(self, schema: dict, value: Any) -> bool:
        if "const" in schema and not json_equal(schema["const"], value):
            return False
        if "enum" in schema:
            if not isinstance(schema["enum"], list):
                raise CannotDecide("enum", "not an array")
            return any(json_equal(value, allowed) for allowed in schema["enum"])
        return True

    def _applicators_ok(self, schema: dict, value: Any, depth: int) -> bool:
        for keyword in ("allOf", "anyOf", "oneOf"):
            if keyword in schema and not isinstance(schema[keyword], list):
                raise CannotDecide(keyword, "not an array")
        if any(not self._valid(part, value, depth) for part in schema.get("allOf", [])):
            return False
        if "anyOf" in schema and not any(self._valid(part, value, depth) for part in schema["anyOf"]):
            return False
        if "oneOf" in schema and sum(1 for part in schema["oneOf"] if self._valid(part, value, depth)) != 1:
            return False
        if "not" in schema and self._valid(schema["not"], value, depth):
            return False
        if self.conditionals_apply and "if" in schema and ("then" in schema or "else" in schema):
            branch = "then" if self._valid(schema["if"], value, depth) else "else"
            if not self._valid(schema.get(branch, True), value, depth):
                return False
        return True

    def _kind_ok(self, schema: dict, value: Any, depth: int) -> bool:
        kind = self._kind(value)
        if kind in ("integer", "number"):
            return self._number_ok(schema, value)
        if kind == "string":
            return self._string_ok(schema, value)
        if kind == "array":
            return self._array_ok(schema, value, depth)
        if kind == "object":
            return self._object_ok(schema, value, depth)
        return True

    # -- numbers and strings --------------------------------------------------------------

    def _number_ok(self, schema: dict, value: Any) -> bool:
        bounds = (
            ("minimum", lambda bound: value >= bound),
            ("maximum", lambda bound: value <= bound),
            ("exclusiveMinimum", lambda bound: value > bound),
            ("exclusiveMaximum", lambda bound: value < bound),
        )
        for keyword, holds in bounds:
            bound = schema.get(keyword)
            if bound is None:
                continue
            if isinstance(bound, bool):  # draft 4's boolean exclusive* modify minimum/maximum
                raise CannotDecide(keyword, "boolean form (draft 4)")
            if not isinstance(bound, (int, float)):
                raise CannotDecide(keyword, "not a number")
            if not holds(bound):
                return False
        if "multipleOf" in schema and not _is_multiple(value, schema["multipleOf"], "multipleOf"):
            return False
        excluded = schema.get(NOT_MULTIPLES, [])
        if not isinstance(excluded, list):
            raise CannotDecide(NOT_MULTIPLES, "not a list")
        return not any(_is_multiple(value, step, NOT_MULTIPLES) for step in excluded)

    def _string_ok(self, schema: dict, value: str) -> bool:
        low, high = schema.get("minLength"), schema.get("maxLength")
        if low is not None and len(value) < low:
            return False
        if high is not None and len(value) > high:
            return False
        if "pattern" in schema and not self._matches("pattern", schema["pattern"], value):
            return False
        if not all(self._matches("pattern", pattern, value) for pattern in schema.get(ALSO_PATTERNS, [])):
            return False
        if any(self._matches("pattern", pattern, value) for pattern in schema.get(NOT_PATTERNS, [])):
            return False
        if value in schema.get(NOT_STRINGS, []):
            return False
        if any(self._matches("format", name, value) for name in schema.get(NOT_FORMATS, [])):
            return False
        name = schema.get("format")
        if isinstance(name, str) and name in EXACT_FORMATS:
            return self._matches("format", name, value)
        if isinstance(name, str) and not is_unknown_format(name):
            # the compiler's other format automata are strict subsets of the RFCs (leap
            # seconds, quoted e-mail local parts, IDNA hostnames): not decided here
            raise CannotDecide("format", f"format {name!r}")
        return True

    def _matches(self, kind: str, source: Any, text: str) -> bool:
        """Whether ``text`` matches pattern ``source`` (anywhere) or, for ``kind`` "format",
        is in the exact format ``source`` (`formats.EXACT_FORMATS`)."""
        from automask.compiler.regex import ast_to_dfa

        if not isinstance(source, str):
            raise CannotDecide(kind, "not a string")
        if not text.isascii() and any(escape in source for escape in _UNICODE_SENSITIVE):
            raise CannotDecide(kind, "a Unicode-sensitive class on non-ASCII text")
        key = (kind, source)
        if key not in self._automata:
            try:
                node = _exact_format_node(source) if kind == "format" else pattern_node(source)
                self._automata[key] = ast_to_dfa(node, self.limits)
            except AutomaskError as error:  # an unsupported regex feature or a limit
                raise CannotDecide(kind, str(error)) from None
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text to match
            raise CannotDecide(kind, "a string with a lone surrogate") from None
        return self._automata[key].matches(data)

    # -- arrays and objects ---------------------------------------------------------------

    def _array_ok(self, schema: dict, value: list, depth: int) -> bool:
        low, high = schema.get("minItems"), schema.get("maxItems")
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            return False
        prefix, items = schema.get("prefixItems", []), schema.get("items", True)
        if isinstance(items, list):  # draft 2019 array form
            prefix, items = items, schema.get("additionalItems", True)
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else items
            if not self._valid(sub, item, depth):
                return False
        if schema.get("uniqueItems") is True and any(
            json_equal(value[i], value[j]) for i in range(len(value)) for j in range(i + 1, len(value))
        ):
            return False
        for sub in schema.get(ALSO_CONTAINS, []):
            if not any(self._valid(sub, item, depth) for item in value):
                return False
        if "contains" in schema:
            found = sum(1 for item in value if self._valid(schema["contains"], item, depth))
            least, most = schema.get("minContains", 1), schema.get("maxContains")
            if found < least or (most is not None and found > most):
                return False
        return True

    def _object_ok(self, schema: dict, value: dict, depth: int) -> bool:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        additional = schema.get("additionalProperties", True)
        if self.options.strict:
            required |= set(properties)
            additional = False
        if not required <= value.keys():
            return False
        low, high = schema.get("minProperties"), schema.get("maxProperties")
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            return False
        patterns = schema.get("patternProperties", {})
        for name, member in value.items():
            matched = [sub for pattern, sub in patterns.items() if self._matches("pattern", pattern, name)]
            if name in properties:
                matched.append(properties[name])
            elif not matched:
                matched.append(additional)
            if not all(self._valid(sub, member, depth) for sub in matched):
                return False
            if "propertyNames" in schema and not self._valid(schema["propertyNames"], name, depth):
                return False
        for requirement in schema.get(SOME_MEMBER, []):
            if not any(
                self._valid(requirement["keys"], name, depth)
                and self._valid(requirement["value"], member, depth)
                for name, member in value.items()
            ):
                return False
        return self._dependencies_ok(schema, value, depth)

    def _dependencies_ok(self, schema: dict, value: dict, depth: int) -> bool:
        for keyword in ("dependentRequired", "dependentSchemas", "dependencies"):
            for trigger, dependency in schema.get(keyword, {}).items():
                if trigger not in value:
                    continue
                if isinstance(dependency, list):
                    if not set(dependency) <= value.keys():
                        return False
                elif not self._valid(dependency, value, depth):
                    return False
        return True


def _is_multiple(value: Any, divisor: Any, keyword: str) -> bool:
    if isinstance(divisor, bool) or not isinstance(divisor, (int, float)) or divisor <= 0:
        raise CannotDecide(keyword, "not a positive number")
    try:
        return Decimal(repr(value)) % Decimal(repr(divisor)) == 0
    except InvalidOperation:
        raise CannotDecide(keyword, "quotient out of decimal range") from None
