"""``object`` keywords: properties, required, additionalProperties, patternProperties,
propertyNames, minProperties/maxProperties.

Member order is fixed: ``properties`` in schema order (optional ones skippable), then
required names not listed in ``properties``, then any additional members.  Keys of
additional members are any string *other than* the listed names (a finite complement,
built over the keys' encodings by `keys.encoded_key_not_in`), so a declared property can
never reappear with an unchecked value.

``patternProperties`` is compiled when the patterns are pairwise disjoint (checked on their
automata); a listed name a pattern matches takes both schemas, and the pattern's members take
the other keys it matches; additional members have the keys that are neither listed nor matched
by a pattern (a `Product` difference of automata); ``propertyNames`` checks the listed names
one by one and intersects the keys of pattern and additional members with the strings its
schema accepts.  Everything else raises `UnsupportedFeature`.

Counting members (``minProperties``/``maxProperties``) multiplies the optional-member
choices, so it is supported with at most `MAX_COUNTED_OPTIONAL` optional properties.

The internal keyword `SOME_KEY_NOT_IN` (the complement of ``additionalProperties: false``)
asks for at least one member whose key is outside a list of names: the names are listed as
optional members (so no extra member's key is among them), and the member chain carries a
"witness written" flag (`_members_with_witness`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automask.compiler.json_schema.internal_keywords import SOME_KEY_NOT_IN
from automask.compiler.json_schema.json_ast import ANY_STRING_CONTENT, json_string, token, whitespace
from automask.compiler.json_schema.keys import encoded_key_not_in, key_literal
from automask.compiler.json_schema.strings import pattern_node
from automask.compiler.regex.ast import (
    EMPTY,
    NOTHING,
    RegexNode,
    alternation,
    concat,
    difference,
    intersection,
    literal,
    repeat,
)

if TYPE_CHECKING:
    from automask.compiler.json_schema.compile import SchemaCompiler

MAX_COUNTED_OPTIONAL = 10


def object_node(ctx: SchemaCompiler, schema: dict, pointer: str, depth: int) -> RegexNode:
    """The JSON objects ``schema`` accepts (its object keywords; other types handled elsewhere)."""
    options = ctx.options
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise ctx.error("properties must be an object", f"{pointer}/properties")
    required_raw = schema.get("required", [])
    if not isinstance(required_raw, list) or not all(isinstance(name, str) for name in required_raw):
        raise ctx.error("required must be an array of strings", f"{pointer}/required")
    required = set(required_raw) | (set(properties) if options.strict else set())
    additional = False if options.strict else schema.get("additionalProperties", True)
    patterns = schema.get("patternProperties", {})
    names_schema = schema.get("propertyNames", True)
    if names_schema == {}:
        names_schema = True

    declared: list[tuple[str, Any, str]] = [
        (name, sub, f"{pointer}/properties/{name}") for name, sub in properties.items()
    ]
    for name in required_raw:
        if name not in properties:
            declared.append((name, additional, f"{pointer}/additionalProperties"))
    outside = _witness_names(ctx, schema, pointer)
    if outside is not None:  # its names are listed, so no extra member's key is among them
        listed = {name for name, _, _ in declared}
        declared.extend(
            (name, additional, f"{pointer}/additionalProperties") for name in outside if name not in listed
        )
    matching: dict[str, list[str]] = {}
    atoms: list[tuple[str, ...]] | None = None
    if patterns:
        matching, atoms = _check_patterns(ctx, patterns, declared, pointer)
    members: list[tuple[RegexNode, bool]] = []
    witnesses: list[bool] = []  # per member: its key is not among ``outside``
    for name, sub, sub_pointer in declared:
        if matching.get(name):  # a listed name a pattern matches: both schemas apply
            pattern_subs = [patterns[pattern] for pattern in matching[name]]
            sub = {"allOf": [sub, *pattern_subs]} if name in properties else {"allOf": pattern_subs}
        if names_schema is not True and not _name_allowed(ctx, names_schema, name, pointer):
            sub = False
        value = ctx.compile(sub, sub_pointer, depth - 1 if sub is True else depth)
        member = concat([key_literal(name), token(":", options), value])
        if name in required or value != NOTHING:
            members.append((member, name in required))
            witnesses.append(outside is not None and name not in outside)
    if any(member == NOTHING or value_is_nothing(member) for member, needed in members if needed):
        return NOTHING
    names = [name for name, _, _ in declared]
    extras: list[RegexNode] = []
    named = (
        None if names_schema is True or names_schema is False else _names_language(ctx, names_schema, pointer)
    )
    if patterns:
        matched_names = [name for name in names if matching.get(name)]
        overlapping = atoms is not None
        if atoms is None:  # disjoint patterns: one member kind per pattern
            atoms = [(pattern,) for pattern in patterns]
        for atom in atoms:  # the keys matching exactly these patterns take all their schemas
            pattern_keys = json_string(pattern_node(atom[0]))
            for pattern in atom[1:]:
                pattern_keys = intersection(pattern_keys, json_string(pattern_node(pattern)))
            others = [pattern for pattern in patterns if pattern not in atom]
            if overlapping and others:
                pattern_keys = difference(
                    pattern_keys, alternation(json_string(pattern_node(other)) for other in others)
                )
            if any(pattern in matching[name] for name in matched_names for pattern in atom):
                pattern_keys = intersection(
                    pattern_keys, encoded_key_not_in(matched_names)
                )  # listed go first
            if named is not None:
                pattern_keys = intersection(pattern_keys, named)
            sub = patterns[atom[0]] if len(atom) == 1 else {"allOf": [patterns[pattern] for pattern in atom]}
            value = ctx.compile(sub, f"{pointer}/patternProperties/{atom[0]}", depth)
            extras.append(concat([pattern_keys, token(":", options), value]))
    if additional is not False and names_schema is not False:
        keys = encoded_key_not_in(names)
        if named is not None:
            keys = intersection(keys, named) if names else named
        if patterns:  # additionalProperties covers the keys no pattern matches
            keys = difference(keys, alternation(json_string(pattern_node(pattern)) for pattern in patterns))
        value = ctx.compile(
            additional, f"{pointer}/additionalProperties", depth - 1 if additional is True else depth
        )
        if value != NOTHING:
            extras.append(concat([keys, token(":", options), value]))
    extra = alternation(extras) if extras else None
    low = ctx.count_keyword(schema, "minProperties", pointer) or 0
    high = ctx.count_keyword(schema, "maxProperties", pointer)
    space = whitespace(options)
    if outside is not None:
        if low or high is not None:
            ctx.unsupported("minProperties" if low else "maxProperties", pointer, "next to a complement")
        body = _members_with_witness(members, witnesses, extra, token(",", options))
    elif low == 0 and high is None:
        body = _members_uncounted(members, extra, token(",", options))
    else:
        optional = sum(1 for _, needed in members if not needed)
        if optional > MAX_COUNTED_OPTIONAL:
            ctx.unsupported(
                "minProperties" if low else "maxProperties",
                pointer,
                f"counting members over {optional} optional properties",
            )
            body = _members_uncounted(members, extra, token(",", options))
        else:
            body = _members_counted(members, extra, token(",", options), 0, 0, low, high)
    return concat([literal("{"), space, body, space, literal("}")])


def value_is_nothing(member: RegexNode) -> bool:
    from automask.compiler.regex.ast import Concat

    return isinstance(member, Concat) and any(item == NOTHING for item in member.items)


def _members_uncounted(
    members: list[tuple[RegexNode, bool]], extra: RegexNode | None, comma: RegexNode
) -> RegexNode:
    """Members in order, optional ones skippable, then any number of ``extra`` members.

    ``after[i]``: the rest from member ``i`` once something was written (each member led
    by a comma) -- a linear chain.  ``first[i]``: the rest when nothing was written yet;
    it shares ``after`` so the AST stays quadratic, not exponential.
    """
    tail_after = repeat(concat([comma, extra]), 0, None) if extra is not None else EMPTY
    tail_first = repeat(concat([extra, tail_after]), 0, 1) if extra is not None else EMPTY
    after, first = tail_after, tail_first
    for member, needed in reversed(members):
        with_member = concat([member, after])
        led = concat([comma, member])
        first = with_member if needed else alternation([with_member, first])
        after = concat([led if needed else repeat(led, 0, 1), after])
    return first


def _members_with_witness(
    members: list[tuple[RegexNode, bool]], witnesses: list[bool], extra: RegexNode | None, comma: RegexNode
) -> RegexNode:
    """`_members_uncounted` with at least one *witness*: a member whose flag is set, or an
    extra member.  Beside ``after`` (the rest once a witness was written) it keeps
    ``need_after`` / ``need_first`` (none yet, with or without a member before); at the end a
    witness can only be an extra member."""
    after = repeat(concat([comma, extra]), 0, None) if extra is not None else EMPTY
    need_after = concat([comma, extra, after]) if extra is not None else NOTHING
    need_first = concat([extra, after]) if extra is not None else NOTHING
    for (member, needed), witness in reversed(list(zip(members, witnesses, strict=True))):
        led = concat([comma, member])
        taken_after = concat([led, after if witness else need_after])
        taken_first = concat([member, after if witness else need_after])
        need_after = taken_after if needed else alternation([taken_after, need_after])
        need_first = taken_first if needed else alternation([taken_first, need_first])
        after = concat([led if needed else repeat(led, 0, 1), after])
    return need_first


def _witness_names(ctx: SchemaCompiler, schema: dict, pointer: str) -> list[str] | None:
    """The names of `SOME_KEY_NOT_IN` (some member's key is none of them), in their order (the
    ones no property lists become optional members in that order), or None."""
    lists = schema.get(SOME_KEY_NOT_IN)
    if not lists:
        return None
    if len(lists) > 1:  # several closed objects' complements at once: a product of flags
        ctx.unsupported("additionalProperties", pointer, "the complements of several closed objects at once")
        return None
    return list(dict.fromkeys(lists[0]))


def _members_counted(
    members: list[tuple[RegexNode, bool]],
    extra: RegexNode | None,
    comma: RegexNode,
    index: int,
    written: int,
    low: int,
    high: int | None,
) -> RegexNode:
    if high is not None and written > high:
        return NOTHING
    lead = [comma] if written else []
    if index == len(members):
        need = max(0, low - written)
        room = None if high is None else high - written
        if extra is None:
            return EMPTY if need == 0 else NOTHING
        if room is not None and need > room:
            return NOTHING
        if written:
            return repeat(concat([comma, extra]), need, room)
        if room == 0:
            return EMPTY if need == 0 else NOTHING
        more = repeat(concat([comma, extra]), max(0, need - 1), None if room is None else room - 1)
        chain = concat([extra, more])
        return chain if need else alternation([EMPTY, chain])
    member, needed = members[index]
    taken = concat(
        [*lead, member, _members_counted(members, extra, comma, index + 1, written + 1, low, high)]
    )
    if needed:
        return taken
    skipped = _members_counted(members, extra, comma, index + 1, written, low, high)
    return alternation([taken, skipped])


_NAME_KEYWORDS = frozenset(("minLength", "maxLength", "pattern", "format"))
_NAME_ANNOTATIONS = frozenset(("title", "description", "$comment", "examples", "default"))


def _names_language(ctx: SchemaCompiler, names_schema: Any, pointer: str) -> RegexNode:
    """The keys ``propertyNames`` allows, in every JSON spelling: the JSON texts its schema
    accepts (any keyword, compiled as a regex) that are strings.  Exact: a key is valid iff
    the string it spells is.  A schema of string keywords alone (``type: string`` is a no-op
    on keys) is its string contents directly, a plain regex rather than a product."""
    from automask.compiler.json_schema.strings import StringConstraintError, string_content

    keywords = set(names_schema) - _NAME_ANNOTATIONS if isinstance(names_schema, dict) else None
    if keywords is not None and names_schema.get("type", "string") == "string":
        keywords.discard("type")
    if keywords is not None and keywords <= _NAME_KEYWORDS:
        try:
            return json_string(string_content(names_schema))
        except StringConstraintError:
            pass  # the general path reports it with its pointer
    accepted = ctx.regular().compile(names_schema, f"{pointer}/propertyNames")
    return intersection(json_string(ANY_STRING_CONTENT), accepted)


def _name_allowed(ctx: SchemaCompiler, names_schema: Any, name: str, pointer: str) -> bool:
    import json

    from automask.compiler.regex import ast_to_dfa
    from automask.errors import EmptyLanguage

    try:
        dfa = ast_to_dfa(ctx.regular().compile(names_schema, f"{pointer}/propertyNames"), ctx.limits)
    except EmptyLanguage:
        return False
    return dfa.matches(json.dumps(name, ensure_ascii=False).encode())


MAX_OVERLAPPING_PATTERNS = 5
"""Most ``patternProperties`` patterns that may overlap (their key classes are up to
``2 ** n - 1`` combinations, each an intersection and difference of automata)."""


def _check_patterns(
    ctx: SchemaCompiler, patterns: dict, declared: list, pointer: str
) -> tuple[dict[str, list[str]], list[tuple[str, ...]] | None]:
    """``(the patterns matching each listed name, atoms)``.  ``atoms`` is None when the patterns
    are pairwise disjoint; otherwise the sets of patterns that some key matches together and no
    other pattern matches (a key takes the schemas of every pattern it matches), in order of
    size -- refused past `MAX_OVERLAPPING_PATTERNS` patterns."""
    from automask.compiler.json_schema.combinators import dfas_disjoint
    from automask.compiler.regex import ast_to_dfa

    dfas = [ast_to_dfa(pattern_node(pattern), ctx.limits) for pattern in patterns]
    matching = {
        name: [pattern for dfa, pattern in zip(dfas, patterns, strict=True) if dfa.matches(name.encode())]
        for name, _, _ in declared
    }
    if all(dfas_disjoint(a, b) for i, a in enumerate(dfas) for b in dfas[i + 1 :]):
        return matching, None
    if len(dfas) > MAX_OVERLAPPING_PATTERNS:
        ctx.unsupported(
            "patternProperties", pointer, f"more than {MAX_OVERLAPPING_PATTERNS} overlapping patterns"
        )
        return matching, None
    return matching, _pattern_atoms(ctx, list(patterns), dfas)


def _pattern_atoms(ctx: SchemaCompiler, patterns: list[str], dfas: list) -> list[tuple[str, ...]]:
    """The non-empty classes "matches exactly these patterns" (see `_check_patterns`)."""
    from itertools import combinations

    from automask.compiler.automata.product import product_dfa
    from automask.errors import EmptyLanguage

    atoms: list[tuple[str, ...]] = []
    for size in range(1, len(patterns) + 1):
        for chosen in combinations(range(len(patterns)), size):
            dfa = dfas[chosen[0]]
            try:
                for index in chosen[1:]:
                    dfa = product_dfa(dfa, dfas[index], "intersection", ctx.limits)
                for index in range(len(patterns)):
                    if index not in chosen:
                        dfa = product_dfa(dfa, dfas[index], "difference", ctx.limits)
            except EmptyLanguage:
                continue
            atoms.append(tuple(patterns[index] for index in chosen))
    return atoms
