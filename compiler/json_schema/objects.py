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

The internal keyword `SOME_MEMBER` (the complements of ``propertyNames``,
``patternProperties``, ``additionalProperties`` and of an object ``const``) asks for members:
for each requirement, at least one member whose key is in a language and whose value satisfies
a schema.  Each member, listed or extra, also gets a *witness version* per set of requirements
its key may meet (value: its own schema and theirs), and the member chain carries the set of
requirements still to meet (`witnesses.chain_with_witnesses`), at most `MAX_MEMBER_REQUIREMENTS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automask.compiler.json_schema.internal_keywords import NOT_STRINGS, SOME_MEMBER
from automask.compiler.json_schema.json_ast import ANY_STRING_CONTENT, json_string, token, whitespace
from automask.compiler.json_schema.keys import encoded_key_not_in, key_literal
from automask.compiler.json_schema.strings import pattern_node
from automask.compiler.json_schema.witnesses import chain_with_witnesses, subsets
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
    requirements = _member_requirements(ctx, schema, pointer)
    listed_names = {name for name, _, _ in declared}
    for requirement in requirements:  # "a key not among these names": list the names (optional)
        for name in requirement.excluded_names or ():  # so that every extra member meets it
            if name not in listed_names:
                listed_names.add(name)
                declared.append((name, additional, f"{pointer}/additionalProperties"))
    matching: dict[str, list[str]] = {}
    atoms: list[tuple[str, ...]] | None = None
    if patterns:
        matching, atoms = _check_patterns(ctx, patterns, declared, pointer)
    colon = token(":", options)
    named = (
        None if names_schema is True or names_schema is False else _names_language(ctx, names_schema, pointer)
    )
    names_allowed = None if names_schema is True else _names_allowed(ctx, named)
    members: list[tuple[RegexNode, bool]] = []
    member_versions: list[dict[int, RegexNode]] = []  # per member: requirement set -> member
    for name, sub, sub_pointer in declared:
        if matching.get(name):  # a listed name a pattern matches: both schemas apply
            pattern_subs = [patterns[pattern] for pattern in matching[name]]
            sub = {"allOf": [sub, *pattern_subs]} if name in properties else {"allOf": pattern_subs}
        if names_allowed is not None and not names_allowed(name):
            sub = False
        value = ctx.compile(sub, sub_pointer, depth - 1 if sub is True else depth)
        member = concat([key_literal(name), colon, value])
        if name in required or value != NOTHING:
            members.append((member, name in required))
            member_versions.append(
                _listed_versions(ctx, requirements, name, member, sub, sub_pointer, depth, colon)
            )
    if any(member == NOTHING or value_is_nothing(member) for member, needed in members if needed):
        return NOTHING
    names = [name for name, _, _ in declared]
    extras: list[RegexNode] = []
    extra_kinds: list[tuple[RegexNode, Any, str, int]] = []  # (keys, value schema, pointer, depth)
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
            extras.append(concat([pattern_keys, colon, value]))
            extra_kinds.append((pattern_keys, sub, f"{pointer}/patternProperties/{atom[0]}", depth))
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
            extras.append(concat([keys, colon, value]))
            extra_kinds.append(
                (
                    keys,
                    additional,
                    f"{pointer}/additionalProperties",
                    depth - 1 if additional is True else depth,
                )
            )
    extra = alternation(extras) if extras else None
    low = ctx.count_keyword(schema, "minProperties", pointer) or 0
    high = ctx.count_keyword(schema, "maxProperties", pointer)
    space = whitespace(options)
    if requirements:
        if low > 1 or high is not None:  # (a required member makes ``minProperties: 1`` hold)
            ctx.unsupported("minProperties" if low else "maxProperties", pointer, "next to a complement")
        extra_versions: dict[int, list[RegexNode]] = {}
        for keys, sub, sub_pointer, sub_depth in extra_kinds:
            for chosen, version in _extra_versions(
                ctx, requirements, keys, sub, sub_pointer, sub_depth, colon
            ).items():
                extra_versions.setdefault(chosen, []).append(version)
        body = chain_with_witnesses(
            member_versions,
            [needed for _, needed in members],
            {chosen: alternation(nodes) for chosen, nodes in extra_versions.items()},
            token(",", options),
            len(requirements),
            _bits(requirements, key_only=False),
        )
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


MAX_MEMBER_REQUIREMENTS = 3
"""Most `SOME_MEMBER` requirements on one object: the member chain tracks which are still to
meet, up to ``2 ** n`` states per position, each member with up to ``2 ** n`` versions."""


@dataclass(frozen=True)
class _Requirement:
    """One `SOME_MEMBER` requirement: a member whose key is a string ``key_schema`` accepts
    (``keys``: those keys in every JSON spelling) and whose value satisfies ``value``.

    A *key-only* requirement (any value) is met by a member exactly when its key is in
    ``keys``, so each member's versions split by key and stay disjoint; a valued one is met by
    a version whose value also satisfies ``value``, beside the member's plain version (the two
    overlap: a union, exact but ambiguous)."""

    key_schema: Any
    value: Any
    keys: RegexNode
    key_fits: Callable[[str], bool]
    """Whether a listed name is a string ``key_schema`` accepts."""
    excluded_names: tuple[str, ...] | None = None
    """For "a key other than these names" (any value): the names, which the object lists as
    optional members, so that every extra member's key meets the requirement."""

    @property
    def key_only(self) -> bool:
        return self.value is True or self.value == {}


def _member_requirements(ctx: SchemaCompiler, schema: dict, pointer: str) -> list[_Requirement]:
    """The requirements of `SOME_MEMBER` (each: some member's key is a string ``keys``
    accepts and its value satisfies ``value``), at most `MAX_MEMBER_REQUIREMENTS`."""
    listed = schema.get(SOME_MEMBER)
    if not listed:
        return []
    if len(listed) > MAX_MEMBER_REQUIREMENTS:
        ctx.unsupported(
            "not",
            pointer,
            f"more than {MAX_MEMBER_REQUIREMENTS} required kinds of member at once (complements)",
        )
        return []
    requirements = []
    for requirement in listed:
        key_schema = requirement["keys"]
        excluded = key_schema.get(NOT_STRINGS) if isinstance(key_schema, dict) else None
        value = requirement["value"]
        if (
            excluded is not None
            and set(key_schema) == {"type", NOT_STRINGS}
            and (value is True or value == {})
        ):
            names = tuple(dict.fromkeys(excluded))
            keys = encoded_key_not_in(list(names))
            requirements.append(
                _Requirement(key_schema, value, keys, lambda name, names=names: name not in names, names)
            )
        else:
            keys = _names_language(ctx, key_schema, pointer)
            requirements.append(_Requirement(key_schema, value, keys, _names_allowed(ctx, keys)))
    return requirements


def _bits(requirements: list[_Requirement], key_only: bool) -> int:
    return sum(1 << index for index, r in enumerate(requirements) if r.key_only == key_only)


def _with_values(
    ctx: SchemaCompiler, requirements: list[_Requirement], sub: Any, chosen: int, sub_pointer: str, depth: int
) -> RegexNode:
    """The values of ``sub`` that also satisfy the valued requirements in ``chosen``."""
    values = [r.value for index, r in enumerate(requirements) if chosen >> index & 1 and not r.key_only]
    return ctx.compile({"allOf": [sub, *values]} if values else sub, sub_pointer, depth)


def _listed_versions(
    ctx: SchemaCompiler,
    requirements: list[_Requirement],
    name: str,
    member: RegexNode,
    sub: Any,
    sub_pointer: str,
    depth: int,
    colon: RegexNode,
) -> dict[int, RegexNode]:
    """A listed member's versions (bit set of the requirements met -> member): its key meets
    exactly the key-only requirements it fits, and any subset of the valued ones it fits."""
    fits = sum(1 << index for index, r in enumerate(requirements) if r.key_fits(name))
    met = fits & _bits(requirements, key_only=True)
    versions = {met: member}
    for valued in subsets(fits & _bits(requirements, key_only=False))[1:]:
        value = _with_values(ctx, requirements, sub, valued, sub_pointer, depth)
        if value != NOTHING:
            versions[met | valued] = concat([key_literal(name), colon, value])
    return versions


def _extra_versions(
    ctx: SchemaCompiler,
    requirements: list[_Requirement],
    keys: RegexNode,
    sub: Any,
    sub_pointer: str,
    depth: int,
    colon: RegexNode,
) -> dict[int, RegexNode]:
    """An extra member kind's versions: its keys split by the key-only requirements they meet
    (exactly those; every extra meets the listed-names ones), each with any subset of the
    valued ones (keys in their languages too)."""
    key_only = _bits(requirements, key_only=True)
    always = sum(1 << index for index, r in enumerate(requirements) if r.excluded_names is not None)
    versions: dict[int, RegexNode] = {}
    plain_value = ctx.compile(sub, sub_pointer, depth)
    for met in subsets(key_only & ~always):
        met |= always  # the keys of extra members are never the listed names
        for valued in subsets(_bits(requirements, key_only=False)):
            chosen = met | valued
            restricted = keys
            for index, requirement in enumerate(requirements):
                if ((chosen & ~always) >> index) & 1:
                    restricted = intersection(restricted, requirement.keys)
            missed = [r.keys for index, r in enumerate(requirements) if ((key_only & ~met) >> index) & 1]
            if missed:
                restricted = difference(restricted, alternation(missed))
            value = (
                _with_values(ctx, requirements, sub, valued, sub_pointer, depth) if valued else plain_value
            )
            version = concat([restricted, colon, value])
            if value != NOTHING and version != NOTHING:
                versions[chosen] = version
    return versions


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


def _names_allowed(ctx: SchemaCompiler, keys: RegexNode | None) -> Callable[[str], bool]:
    """Whether a name is among ``keys`` (the encoded key strings, `_names_language`; None:
    no key): the automaton of ``keys``, built on the first name asked about.  Lazily: most
    objects with such a schema list no name (``patternProperties`` complements), and the
    automaton of a pattern's keys took 0.3 s to build, six times, in a MaskBench schema that
    never asked."""
    import json

    from automask.compiler.regex import ast_to_dfa
    from automask.errors import EmptyLanguage

    built: list = []  # [the DFA, or None for the empty language], once asked

    def allowed(name: str) -> bool:
        if not built:
            try:
                built.append(None if keys is None else ast_to_dfa(keys, ctx.limits))
            except EmptyLanguage:
                built.append(None)
        dfa = built[0]
        return dfa is not None and dfa.matches(json.dumps(name, ensure_ascii=False).encode())

    return allowed


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
