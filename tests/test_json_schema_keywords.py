"""Keyword-level tests of the JSON-Schema front-end: DFA acceptance vs `jsonschema` validation.

Each schema is compiled to a byte DFA; instances are serialised like MaskBench
(``json.dumps(..., ensure_ascii=False)``) and must be accepted exactly when `jsonschema`
says they are valid.  Instances are chosen in schema property order and without exponent
notation, the documented limits of the regular front-end.
"""

from __future__ import annotations

import json
import pickle
import random
import warnings

import numpy as np
import pytest

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.json_schema.compile import SchemaError, schema_to_regex_ast
from automask.compiler.json_schema.json_ast import (
    ANY_CHAR,
    _encode_char_set,
    encode_char_set,
    encode_content,
    json_string,
)
from automask.compiler.json_schema.key_automaton import names_spelling_dfa, names_spelling_dfa_reference
from automask.compiler.json_schema.keys import (
    KeyNotIn,
    encoded_key_not_in,
    key_literal,
    strings_in,
    unit_not_in,
    units_of,
)
from automask.compiler.json_schema.options import JsonSchemaOptions
from automask.compiler.limits import CompileLimits
from automask.compiler.regex import _general_ast_to_dfa, ast_to_dfa
from automask.compiler.regex.ast import (
    EMPTY,
    CharSet,
    Concat,
    RegexNode,
    alternation,
    char_set,
    concat,
    literal,
    repeat,
)
from automask.errors import CompileLimitExceeded, EmptyLanguage, UnsupportedFeature

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (test extra) is the validation oracle")


def dfa_for(schema, **options):
    return ast_to_dfa(schema_to_regex_ast(schema, JsonSchemaOptions(**options)))


CASES = [
    (
        {"type": "integer", "minimum": -12, "exclusiveMaximum": 105},
        [-13, -12, -1, 0, 5, 104, 105, 3.0, 2.5, "1", None],
    ),
    ({"type": "number", "minimum": 0.25, "maximum": 7.5}, [0.2, 0.25, 0.3, 1, 7.5, 7.51, -1, 3.14159]),
    ({"type": "number", "exclusiveMinimum": -1.5, "exclusiveMaximum": 0}, [-1.5, -1.49, -1, -0.0, 0, 0.1]),
    ({"type": "integer", "multipleOf": 4, "minimum": 0, "maximum": 30}, [0, 4, 6, 28, 32, -4]),
    ({"type": "integer", "multipleOf": 5}, [0, 5, -15, 7, 1000, 1001]),
    ({"type": "string", "minLength": 2, "maxLength": 3}, ["a", "ab", "abc", "abcd", "é\n", 'a"b', "\\\\\\"]),
    ({"type": "string", "pattern": "^[a-z]+\\d$", "maxLength": 4}, ["ab1", "abc1", "abcd1", "1", "Ab1"]),
    ({"type": "string", "pattern": "b+c"}, ["abbcd", "bc", "ac", "x\ny bc", ""]),
    ({"type": "string", "pattern": "^a|b$"}, ["axx", "xxb", "xax", "bx"]),
    ({"type": "string", "format": "date"}, ["2024-02-29", "2023-02-29", "2024-13-01", "2024-04-31", "x"]),
    (
        {"type": "string", "format": "uuid"},
        ["123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000"],
    ),
    ({"type": "string", "format": "ipv4"}, ["192.168.0.1", "256.1.1.1", "01.1.1.1", "1.1.1"]),
    (
        {"enum": ["a", 1, None, [1, "x"], {"k": True}]},
        ["a", 1, 1.0, None, [1, "x"], {"k": True}, {"k": 1}, "b", True],
    ),
    ({"const": 'he said "hi"\n'}, ['he said "hi"\n', "he said hi"]),
    ({"type": "string", "enum": ["a", 1, "bb"], "maxLength": 1}, ["a", "bb", 1]),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
            "required": ["b"],
            "additionalProperties": False,
        },
        [{"b": "x"}, {"a": 1, "b": "x"}, {"a": 1, "b": "x", "c": True}, {"a": 1}, {"b": "x", "d": 1}, {}],
    ),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "additionalProperties": {"type": "string"},
        },
        [{"a": 1, "z": "s"}, {"z": "s"}, {"a": 1, "z": 2}, {"a": "s"}, {}],
    ),
    (
        {
            "type": "object",
            "properties": {"a": {}, "b": {}},
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
        },
        [{}, {"a": 1}, {"b": [1]}, {"a": 1, "b": 2}],
    ),
    (
        {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
        [{}, {"x-a": 1}, {"x-a": "s"}, {"y": 1}],
    ),
    (
        {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3},
        [[], [1], [1, 2, 3], [1, 2, 3, 4], [1, "a"]],
    ),
    (
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
        [[], ["a"], ["a", 1], ["a", 1, 2], [1]],
    ),
    ({"type": "array", "contains": {"const": 7}, "minContains": 2}, [[7], [7, 7], [1, 7, 2, 7], [1, 2]]),
    (
        {"type": "array", "items": {"enum": ["x", "y"]}, "uniqueItems": True},
        [[], ["x"], ["x", "y"], ["x", "x"], ["y", "x"]],
    ),
    ({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]}, [1, "a", "ab", None]),
    ({"oneOf": [{"type": "integer"}, {"type": "null"}]}, [1, None, "a"]),
    (
        {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}},
                {"required": ["a"], "properties": {"a": {"minimum": 3}}},
            ]
        },
        [{"a": 3}, {"a": 2}, {}],
    ),
    ({"type": ["string", "null"], "not": {"type": "null"}}, ["a", None]),
    (
        {
            "$defs": {"pos": {"type": "integer", "minimum": 1}},
            "type": "array",
            "items": {"$ref": "#/$defs/pos"},
        },
        [[1, 2], [0], []],
    ),
    (
        {
            "$defs": {
                "node": {
                    "type": "object",
                    "properties": {"next": {"$ref": "#/$defs/node"}},
                    "additionalProperties": False,
                }
            },
            "$ref": "#/$defs/node",
        },
        [{}, {"next": {}}, {"next": {"next": {"next": 1}}}],
    ),
    (True, [1, "a", None, [1, [2]], {"a": {"b": 1}}]),
    # anchors inside a wrapping group pin the branch (``.*`` would accept any suffix)
    (
        {"type": "string", "pattern": "^$|(^(?:\\S+\\s+){0,2}\\S+$)"},
        ["", "a", "a b c", "a b c d", " a", "a "],
    ),
    ({"type": "string", "pattern": "(?:ab$)|^c"}, ["ab", "xab", "abx", "c", "xc", "cx"]),
    # an anchored alternation at an end is distributed: ^(a|$) is ^(?:a)|^(?:$)
    ({"type": "string", "pattern": "^([^,]|$)"}, ["", "a", ",", ",a", "a,"]),
    ({"type": "string", "pattern": "(^Hpt_|^Int_)"}, ["Hpt_1", "xHpt_", "Int_", "In"]),
    ({"type": "string", "pattern": "x(a|b$)"}, ["xa", "xaz", "xb", "xbz", "b"]),
    # applicators next to an enum: each value is checked (InstanceChecker)
    ({"enum": ["a", "b", "c", 1], "not": {"type": "string", "pattern": "^b"}}, ["a", "b", "c", 1, "d"]),
    (
        {
            "allOf": [
                {"enum": [{"bar": 2, "foo": 1, "quux": 12}, {"foo": 1, "quux": True}]},
                {"not": {"additionalProperties": {"type": "boolean"}, "properties": {"bar": {}, "foo": {}}}},
            ]
        },
        [{"bar": 2, "foo": 1, "quux": 12}, {"foo": 1, "quux": True}],
    ),
    ({"enum": [1, "x", None, 2.5], "oneOf": [{"type": "number"}, {"minimum": 2}]}, [1, "x", None, 2.5, 3]),
    (
        {
            "enum": [{"a": 1}, {"b": 1}, {"a": 1, "b": 2}, {}],
            "anyOf": [{"required": ["a"]}, {"maxProperties": 0}],
        },
        [{"a": 1}, {"b": 1}, {"a": 1, "b": 2}, {}],
    ),
    (
        {"enum": [1, 5, "s", "t"], "if": {"type": "integer"}, "then": {"minimum": 3}, "else": {"const": "s"}},
        [1, 5, "s", "t"],
    ),
    ({"enum": [{"b": 1, "a": 2}], "properties": {"a": {}, "b": {}}}, [{"b": 1, "a": 2}]),
    ({"enum": [[1, 2], [1, 1]], "uniqueItems": True, "not": {"contains": {"const": 3}}}, [[1, 2], [1, 1]]),
    # oneOf compiled as anyOf once its branches are proven disjoint (compiler.json_schema.disjoint)
    (
        {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"src": {}, "to": {}},
                    "required": ["src"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"replace": {}, "with": {}},
                    "required": ["replace"],
                    "additionalProperties": False,
                },
            ]
        },
        [{"src": 1}, {"replace": 1, "with": 2}, {"src": 1, "replace": 2}, {}, {"to": 1}],
    ),
    (
        {
            "type": "object",
            "oneOf": [
                {
                    "required": ["kind"],
                    "properties": {"kind": {"$ref": "#/$defs/a"}, "x": {"type": "integer"}},
                },
                {
                    "required": ["kind", "y"],
                    "properties": {"kind": {"anyOf": [{"const": "b"}, {"const": "c"}]}},
                },
            ],
            "$defs": {"a": {"const": "a"}},
        },
        [{"kind": "a"}, {"kind": "a", "x": 1}, {"kind": "b", "y": 1}, {"kind": "b"}, {"kind": "d", "y": 1}],
    ),
    (
        {"oneOf": [{"type": "integer", "maximum": 3}, {"type": "integer", "exclusiveMinimum": 3}]},
        [2, 3, 4, 3.5],
    ),
    (
        {"type": "object", "oneOf": [{"required": ["a", "b"]}, {"maxProperties": 1}]},
        [{}, {"a": 1}, {"a": 1, "b": 2}, {"a": 1, "c": 2}],
    ),
    (
        {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "string", "minLength": 3}]},
        ["", "ab", "abc", 1],
    ),
    # oneOf type by type: object shapes with a discriminator but no type: object accept no
    # non-object (every non-object satisfies all of them)
    (
        {
            "oneOf": [
                {
                    "properties": {"country": {"enum": ["CAN"]}, "p": {"type": "string"}},
                    "additionalProperties": False,
                    "required": ["country", "p"],
                },
                {
                    "properties": {"country": {"enum": ["USA"]}, "z": {"type": "string"}},
                    "additionalProperties": False,
                    "required": ["country", "z"],
                },
            ]
        },
        [
            {"country": "CAN", "p": "x"},
            {"country": "USA", "z": "y"},
            {"country": "USA", "p": "x"},
            "x",
            1,
            None,
            [],
        ],
    ),
    # a listed name a pattern matches takes both schemas
    (
        {
            "type": "object",
            "properties": {"foo": {"type": "integer"}, "bar": {}},
            "patternProperties": {"^f": {"minimum": 3}},
            "additionalProperties": False,
        },
        [{}, {"foo": 3}, {"foo": 1}, {"fx": 5}, {"fx": 1}, {"bar": 1}, {"baz": 1}, {"foo": 4, "fx": 4}],
    ),
    (
        {
            "type": "object",
            "required": ["fa"],
            "patternProperties": {"^f": {"type": "string"}},
            "additionalProperties": {"type": "integer"},
        },
        [{"fa": "x"}, {"fa": 1}, {"fa": "x", "b": 1}, {"fa": "x", "b": "y"}, {"fa": "x", "fb": "y"}],
    ),
    # two nots merged: not A and not B = not (A or B)
    (
        {"allOf": [{"not": {"type": "string"}}, {"not": {"required": ["a"]}}]},
        [1, "x", None, 1.5, [], {}, {"a": 1}],
    ),
    # a complement through a $ref (oneOf of referenced branches)
    (
        {
            "$defs": {"a": {"required": ["a"]}, "b": {"required": ["b"]}},
            "type": "object",
            "oneOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/b"}],
        },
        [{}, {"a": 1}, {"b": 1}, {"a": 1, "b": 2}],
    ),
    # the complement of a pattern: strings none of whose substrings match it
    (
        {"type": "string", "not": {"pattern": "[^a-z ]"}, "maxLength": 5},
        ["", "ab c", "abC", "abcdef", "a-b", 1],
    ),
    ({"not": {"pattern": "^x"}}, ["x", "xa", "ax", "", 1, None, {"a": 1}]),
    ({"oneOf": [{"pattern": "^a"}, {"pattern": "b$"}], "type": "string"}, ["a", "b", "ab", "c", "ba"]),
    ({"type": "string", "pattern": "^[a-z]+$", "not": {"pattern": "bad"}}, ["good", "bad", "notbad", "Bad"]),
    # bounds that no string or array meets leave the other types (was a crash in repeat())
    ({"type": ["string", "null"], "minLength": 5, "maxLength": 2}, ["abc", "abcdef", None]),
    ({"type": ["array", "null"], "minItems": 5, "maxItems": 2}, [[], [1, 2, 3, 4, 5], None]),
    # several patterns at once (allOf), and their complement
    (
        {"allOf": [{"type": "string", "pattern": "^a"}, {"pattern": "b$"}, {"pattern": "c"}]},
        ["ab", "acb", "ac", "cb", "abc", 1],
    ),
    (
        {
            "allOf": [{"pattern": "^a"}, {"pattern": "b$"}],
            "not": {"allOf": [{"pattern": "x"}, {"pattern": "y"}]},
        },
        ["ab", "axb", "axyb", "ayb", 2],
    ),
    # the complement of additionalProperties: false: an object with a key outside properties
    (
        {
            "oneOf": [
                {"type": "object", "additionalProperties": False, "properties": {"foo": {"type": "string"}}},
                {"type": "object", "additionalProperties": False, "properties": {"bar": {"type": "string"}}},
            ]
        },
        [{}, {"foo": "x"}, {"bar": "y"}, {"foo": "x", "bar": "y"}, {"foo": 1}, {"baz": 1}, 1],
    ),
    (
        {"not": {"type": "object", "additionalProperties": False, "properties": {"foo": {"type": "string"}}}},
        [{}, {"foo": "x"}, {"foo": 1}, {"bar": 1}, {"foo": "x", "bar": 1}, 1, "s"],
    ),
    (
        {
            "type": "object",
            "required": ["a"],
            "properties": {"a": {}, "b": {}, "c": {}},
            "not": {"properties": {"a": {}, "b": {}}, "additionalProperties": False},
        },
        [{"a": 1}, {"a": 1, "b": 2}, {"a": 1, "c": 3}, {"a": 1, "b": 2, "c": 3}, {"a": 1, "d": 1}],
    ),
    # allOf of two patternProperties that leave other keys free: the union of the patterns
    (
        {
            "allOf": [
                {"patternProperties": {"^x": {"type": "integer"}}},
                {
                    "patternProperties": {"^y": {"type": "string"}, "^x": {"minimum": 3}},
                    "properties": {"z": {}},
                },
            ]
        },
        [
            {},
            {"x1": 5},
            {"x1": 2},
            {"x1": "s"},
            {"y": "s"},
            {"y": 1},
            {"z": 1},
            {"w": None},
            {"x": 4, "y": "a"},
        ],
    ),
    # overlapping patterns: a key takes the schemas of every pattern it matches
    (
        {
            "type": "object",
            "patternProperties": {"a": {"type": "number", "minimum": 10}, "b": {"type": "integer"}, "^c": {}},
            "properties": {"ab": {"maximum": 20}},
            "additionalProperties": False,
        },
        [
            {},
            {"a": 11},
            {"a": 5},
            {"b": 1.5},
            {"b": 3},
            {"ab": 12},
            {"ab": 12.5},
            {"ab": 25},
            {"xaby": 11},
            {"xaby": 11.5},
            {"xaby": 9},
            {"cab": 10},
            {"cab": 10.5},
            {"c": "s"},
            {"d": 1},
            {"ca": "s"},
        ],
    ),
    (
        {
            "allOf": [
                {"type": "object", "patternProperties": {"a": {"type": "number", "minimum": 10}}},
                {"type": "object", "patternProperties": {"b": {"type": "number", "minimum": 3}}},
            ],
            "minProperties": 1,
        },
        [{}, {"a": 10}, {"a": 9}, {"b": 3}, {"b": 2}, {"ab": 10}, {"ab": 9}, {"c": "s"}, {"ab": "s"}],
    ),
    # a pattern every key matches (unanchored "a*"): no key is left to additionalProperties,
    # whose empty key language must drop that member, not the schema
    (
        {"patternProperties": {"a*": {"type": "integer"}, "aaa*": {"maximum": 20}}},
        [{}, {"a": 21}, {"aaaa": 18}, {"a": 21, "aaaa": 18}, {"aaaa": 31}, {"b": 1.5}, {"bb": 3}],
    ),
]


@pytest.mark.parametrize(("schema", "instances"), CASES, ids=[json.dumps(case[0])[:50] for case in CASES])
def test_dfa_agrees_with_jsonschema(schema, instances):
    dfa = dfa_for(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for instance in instances:
        text = json.dumps(instance, ensure_ascii=False)
        assert dfa.matches(text.encode()) == validator.is_valid(instance), text


def test_flexible_whitespace_accepts_pretty_printing_and_is_bounded():
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "integer"}}}}
    dfa = dfa_for(schema)
    instance = {"a": [1, 2]}
    for text in (
        json.dumps(instance),
        json.dumps(instance, indent=2),
        json.dumps(instance, separators=(",", ":")),
    ):
        assert dfa.matches(text.encode()), text
    assert not dfa.matches(b'{"a":' + b" " * 17 + b"[]}")
    assert not dfa.matches(b' {"a": []}')
    compact = dfa_for(schema, whitespace="compact")
    assert compact.matches(b'{"a":[1,2]}')
    assert not compact.matches(json.dumps(instance).encode())


def test_escaped_forms_are_accepted_and_count_as_one_character():
    dfa = dfa_for({"type": "string", "maxLength": 2, "pattern": "^é"})
    for text in ('"é"', '"\\u00e9"', '"\\u00E9\\n"', '"é\\/"'):
        assert dfa.matches(text.encode()), text
    assert not dfa.matches('"é12"'.encode())
    assert not dfa.matches(b'"\\ud800"')
    emoji = dfa_for({"const": "\U0001f600"})
    assert emoji.matches('"\U0001f600"'.encode())
    assert emoji.matches(b'"\\ud83d\\ude00"')


def test_strict_mode_requires_every_property_and_forbids_others():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
    dfa = dfa_for(schema, strict=True)
    assert dfa.matches(b'{"a": 1, "b": 2}')
    assert not dfa.matches(b'{"a": 1}')
    assert not dfa.matches(b'{"a": 1, "b": 2, "c": 3}')


def test_additional_key_cannot_repeat_a_declared_name():
    dfa = dfa_for({"type": "object", "properties": {"a": {"type": "integer"}}})
    assert dfa.matches(b'{"a": 1, "ab": "x"}')
    assert not dfa.matches(b'{"a": 1, "a": "x"}')


def _decoded_key_not_in(names: list[str]) -> RegexNode:
    """Reference definition: the complement of ``names`` over decoded characters (a trie,
    "any character but the children" at each node), encoded by `encode_content` afterwards."""
    trie: dict = {}
    for name in names:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}

    def complement(node: dict) -> RegexNode:
        children = [char for char in node if char]
        options: list[RegexNode] = [] if "" in node else [EMPTY]
        others = char_set([(ord(char), ord(char)) for char in children], negate=True)
        options.append(concat([others, repeat(ANY_CHAR, 0, None)]))
        options.extend(concat([literal(char), complement(node[char])]) for char in children)
        return alternation(options)

    return concat([literal('"'), encode_content(complement(trie)), literal('"')])


def same_language(left: ByteDFA, right: ByteDFA) -> bool:
    """Whether two trimmed DFAs accept the same byte strings (search of the product)."""
    seen = {(left.start, right.start)}
    frontier = [(left.start, right.start)]
    while frontier:
        a, b = frontier.pop()
        if bool(left.accepting[a]) != bool(right.accepting[b]):
            return False
        row_a, row_b = left.transitions[a], right.transitions[b]
        if not np.array_equal(row_a == DEAD, row_b == DEAD):
            return False  # every state is live, so a byte one side refuses is a difference
        for pair in zip(row_a[row_a != DEAD].tolist(), row_b[row_b != DEAD].tolist(), strict=True):
            if pair not in seen:
                seen.add(pair)
                frontier.append(pair)
    return True


@pytest.mark.parametrize(
    "names",
    [
        [],
        [""],
        ["a"],
        ["a", "ab", "b"],
        ["name", "age", "nick_name"],
        ["\\", '"', "\n", "/", "\x00", "\x1f"],
        ["\u00e9t\u00e9", "x\uffff", "\u00ff", "\u0100"],
        ["\U0001f600", "a\U00010000b", "\U0010ffff"],
        ["\ud7ff\ue000"],
    ],
)
def test_key_exclusion_is_the_encoded_complement_of_the_names(names):
    built = ast_to_dfa(encoded_key_not_in(names))
    assert same_language(built, ast_to_dfa(_decoded_key_not_in(names)))
    for name in names:
        assert not built.matches(json.dumps(name).encode())  # \uXXXX escapes
        assert not built.matches(json.dumps(name, ensure_ascii=False).encode())
    assert built.matches(json.dumps("".join(names) + "zz", ensure_ascii=False).encode())


def _same_tables(first: ByteDFA, second: ByteDFA) -> bool:
    return (
        first.start == second.start
        and np.array_equal(first.transitions, second.transitions)
        and np.array_equal(first.accepting, second.accepting)
    )


KEY_ALPHABET = 'ab/"\\\n\t\u00e9\U0001f600zF\x7f\u2028'


@pytest.mark.parametrize("seed", range(40))
def test_direct_key_automata_equal_the_regex_path_table_for_table(seed):
    """`KeyNotIn` / `StringIn` build their DFA as a product / spelling trie; the regex of the
    same language through the general path must give the very same minimal, canonical table."""
    rng = random.Random(seed)
    names = [
        "".join(rng.choice(KEY_ALPHABET) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 4))
    ]
    excluded = encoded_key_not_in(names)
    assert isinstance(excluded, KeyNotIn)
    assert _same_tables(ast_to_dfa(excluded), _general_ast_to_dfa(Concat(excluded.items), CompileLimits()))
    literal_key = key_literal(names[0])
    assert _same_tables(ast_to_dfa(literal_key), ast_to_dfa(json_string(literal(names[0]))))
    several = strings_in(names)
    plain = alternation(json_string(literal(name)) for name in names)
    assert _same_tables(ast_to_dfa(several), _general_ast_to_dfa(plain, CompileLimits()))
    # embedded in a larger regex (the NFA path copies the tagged node's own DFA)
    inside = concat([literal("["), several, literal("]")])
    plain_inside = concat([literal("["), plain, literal("]")])
    assert _same_tables(
        _general_ast_to_dfa(inside, CompileLimits()), _general_ast_to_dfa(plain_inside, CompileLimits())
    )


@pytest.mark.parametrize("seed", range(20))
def test_spelling_trie_kernel_equals_its_reference(seed):
    """`names_spelling_dfa` (one numba call) builds the very table of its Python reference:
    names sharing prefixes, the empty name, escapes, multi-byte and astral characters, lone
    surrogates (no spelling)."""
    rng = random.Random(seed)
    alphabet = 'ab"\\/\n\x01\u00e9\u00e8\u20ac\U0001f600\ud800'
    names = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(rng.randint(1, 8))
    ]
    names += [name[: rng.randint(0, len(name))] for name in names[:2]]  # prefixes of other names
    built, expected = names_spelling_dfa(names), names_spelling_dfa_reference(names)
    assert np.array_equal(built.transitions, expected.transitions)
    assert np.array_equal(built.accepting, expected.accepting) and built.start == expected.start == 0


def test_tagged_key_nodes_survive_concatenation_and_pickling():
    excluded = encoded_key_not_in(["b", "a", "a"])
    assert excluded == encoded_key_not_in(["a", "b"]) and hash(excluded) == hash(
        encoded_key_not_in(["a", "b"])
    )
    assert excluded != key_literal("a") and excluded != Concat(excluded.items)
    member = concat([excluded, literal(":")])
    assert isinstance(member, Concat) and member.items[0] is excluded
    assert pickle.loads(pickle.dumps(excluded)) == excluded
    assert ast_to_dfa(member).matches(b'"c":') and not ast_to_dfa(member).matches(b'"\\u0061":')


@pytest.mark.parametrize(
    "codes",
    [[0x61], [0xFF], [0x00, 0xFE], [0x22, 0x5C, 0x2F, 0x00, 0x1F, 0x20], [0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF],
     [*range(0x41, 0x5B), 0x5F], [0xE9, 0x4E2D, 0xFFF, 0x1000, 0xFF, 0x100]],
)  # fmt: skip
def test_one_character_encodings_match_encode_char_set(codes):
    chars = char_set((code, code) for code in codes)
    assert same_language(ast_to_dfa(units_of(codes)), ast_to_dfa(encode_char_set(chars)))
    others = char_set(((code, code) for code in codes), negate=True)
    assert same_language(ast_to_dfa(unit_not_in(codes)), ast_to_dfa(encode_char_set(others)))


@pytest.mark.parametrize(
    "code", [0x00, 0x09, 0x22, 0x2F, 0x5C, 0x61, 0xE9, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF]
)
def test_single_character_fast_path_matches_the_general_encoding(code):
    chars = CharSet(((code, code),))
    assert same_language(ast_to_dfa(encode_char_set(chars)), ast_to_dfa(_encode_char_set(chars)))


def test_length_bound_beyond_max_repeat_is_a_limit_error_naming_the_keyword():
    schema = {"type": "object", "properties": {"c": {"type": "string", "maxLength": 65535}}}
    with pytest.raises(CompileLimitExceeded) as raised:
        schema_to_regex_ast(schema)
    assert raised.value.limit == "max_repeat"
    assert "#/properties/c/maxLength" in str(raised.value)
    small = CompileLimits(max_repeat=3)
    assert ast_to_dfa(schema_to_regex_ast({"type": "string", "maxLength": 3}, limits=small)).matches(b'"abc"')
    with pytest.raises(CompileLimitExceeded):
        schema_to_regex_ast({"type": "string", "minLength": 4}, limits=small)


def test_recursion_is_unrolled_to_max_nesting():
    schema = {"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}
    dfa = dfa_for(schema, max_nesting=2)
    assert dfa.matches(b"[[[]]]")
    assert not dfa.matches(b"[[[[[]]]]]")


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        (
            {"properties": {"a": {"allOf": [{"properties": {"x": {}}}], "unevaluatedProperties": False}}},
            "#/properties/a/unevaluatedProperties",
        ),
        ({"if": {"prefixItems": [{"type": "string"}]}, "then": {"multipleOf": 2}}, "#/if"),
        ({"type": "string", "format": "idn-email"}, "#/format"),
        ({"oneOf": [{"type": "string", "format": "email"}, {"minLength": 2}]}, "#/oneOf"),
        ({"type": "integer", "multipleOf": 0.123456789}, "#/multipleOf"),
        ({"enum": [1, "a"], "not": {"type": "string", "format": "email"}}, "#/not"),
        ({"type": "string", "pattern": "(^a|b)?c"}, "#/pattern"),
        ({"type": "string", "$automask:notPatterns": ["a"]}, "$automask:notPatterns"),
        ({"type": "object", "$automask:someMember": [{"keys": True, "value": True}]}, "$automask:someMember"),
        ({"type": "string", "$automask:notStrings": ["a"]}, "$automask:notStrings"),
        ({"type": "string", "$automask:alsoPatterns": ["a"]}, "$automask:alsoPatterns"),
        ({"type": "number", "$automask:notMultiples": [3]}, "$automask:notMultiples"),
        ({"$ref": "http://example.com/other.json"}, "#/$ref"),
        (
            {"type": "array", "contains": {"type": "string", "format": "email"}, "maxContains": 2},
            "#/maxContains",
        ),
        ({"type": "array", "prefixItems": [{}], "contains": {"type": "integer"}}, "#/contains"),
        (
            {
                "allOf": [
                    {"contains": {"const": 1}, "minContains": 2},
                    {"contains": {"const": 2}, "maxContains": 1},
                ]
            },
            "#/allOf",
        ),
    ],
)
def test_unsupported_keywords_name_the_keyword_and_pointer(schema, pointer):
    with pytest.raises(UnsupportedFeature) as info:
        schema_to_regex_ast(schema)
    assert pointer in str(info.value)


def test_lenient_ignores_with_a_warning():
    schema = {"type": "string", "format": "uri-template"}
    with pytest.warns(UserWarning, match="uri-template"):
        node = schema_to_regex_ast(schema, JsonSchemaOptions(lenient=True))
    assert ast_to_dfa(node).matches(b'"anything"')


def test_a_format_json_schema_does_not_define_is_an_annotation_with_a_warning():
    """JSON Schema has validators ignore unknown formats: any string, and a typed warning."""
    from automask.errors import UnknownFormatWarning

    schema = {"type": "string", "format": "path"}
    with pytest.warns(UnknownFormatWarning, match="'path'"):
        dfa = ast_to_dfa(schema_to_regex_ast(schema))
    for text in ("/any/thing at all", "", "x"):
        assert dfa.matches(json.dumps(text).encode())
        jsonschema.validate(text, schema)
    assert not dfa.matches(b"1")


def test_annotations_are_ignored_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dfa = dfa_for(
            {
                "title": "t",
                "description": "d",
                "default": 1,
                "examples": [1],
                "$comment": "c",
                "type": "integer",
            }
        )
    assert dfa.matches(b"12")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "strnig"},
        {"$ref": "#/$defs/missing"},
        {"type": "string", "minLength": -1},
        {"properties": []},
        3,
    ],
)
def test_malformed_schemas_raise_schema_error(schema):
    with pytest.raises(SchemaError):
        schema_to_regex_ast(schema)


def test_unsatisfiable_schema_is_an_empty_language():
    with pytest.raises(EmptyLanguage):
        dfa_for({"type": "integer", "minimum": 5, "maximum": 4})


def test_state_limit_surfaces_as_compile_limit_exceeded():
    schema = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "maxLength": 8} for i in range(12)},
    }
    with pytest.raises(CompileLimitExceeded):
        ast_to_dfa(schema_to_regex_ast(schema), CompileLimits(max_dfa_states=50))


def test_schema_nested_beyond_the_recursion_limit_is_a_limit_error():
    """Pathological nesting fails with a typed CompileLimitExceeded, never a RecursionError."""
    from automask.compiler.vocabulary.vocabulary import Vocabulary
    from automask.json_schema_api import compile_json_schema

    vocab = Vocabulary([bytes([b]) for b in range(256)] + [b""], eos_ids=[256])
    schema: dict = {"type": "integer"}
    for _ in range(3000):
        schema = {"type": "array", "items": schema, "maxItems": 1}
    with pytest.raises(CompileLimitExceeded, match="nesting depth"):
        compile_json_schema(schema, vocab)


BOUNDS = [
    {"minimum": 0},
    {"exclusiveMinimum": 0},
    {"minimum": 0.001},
    {"maximum": 0},
    {"exclusiveMaximum": 0},
    {"exclusiveMinimum": -1.5, "maximum": 1000},
    {"minimum": -0.00001, "maximum": 1},
    {"minimum": -1, "maximum": 0.00005},
]
EXPONENT_NUMERALS = [
    f"{sign}{mantissa}{e}-{zeros}{exponent}"
    for sign in ("", "-")
    for mantissa in ("1", "9.75", "5.0")
    for e in ("e", "E")
    for zeros in ("", "00")
    for exponent in ("4", "5", "12")
] + ["1e+3", "1e3", "0.5e-7", "10e-6", "2.5e+20"]


@pytest.mark.parametrize("bounds", BOUNDS, ids=json.dumps)
def test_bounded_numbers_accept_small_exponent_floats_only_when_in_range(bounds):
    from decimal import Decimal

    import jsonschema

    schema = {"type": "number", **bounds}
    dfa = ast_to_dfa(schema_to_regex_ast(schema), CompileLimits())
    validator = jsonschema.Draft202012Validator(schema)
    for numeral in EXPONENT_NUMERALS:
        value = json.loads(numeral, parse_float=Decimal)
        if dfa.matches(numeral.encode()):  # never an invalid one
            assert validator.is_valid(value), numeral
    # what json.dumps writes for small floats is accepted iff every value of the tiny interval
    # of its sign, (0, 1e-4) or (-1e-4, 0), is in range (the documented under-approximation)
    for x in (1e-05, 2.5e-09, -3e-07):
        sign = 1 if x > 0 else -1
        interval_in_range = validator.is_valid(sign * Decimal("1e-300")) and validator.is_valid(
            sign * Decimal("0.0001")
        )
        assert dfa.matches(json.dumps(x).encode()) == interval_in_range, (x, bounds)


@pytest.mark.parametrize(
    ("schema", "instances"),
    [
        ({"type": "number", "maximum": 5, "exclusiveMaximum": True}, [5, 4.9, 5.1, -3]),
        ({"type": "integer", "minimum": 1, "exclusiveMinimum": True}, [0, 1, 2]),
        ({"type": "integer", "minimum": 1, "exclusiveMinimum": False}, [0, 1, 2]),
        ({"type": "number", "exclusiveMaximum": True}, [1e9, -1]),
    ],
)
def test_draft4_boolean_exclusive_bounds(schema, instances):
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", **schema}
    dfa = dfa_for(schema)
    validator = jsonschema.Draft4Validator(schema)
    for instance in instances:
        assert dfa.matches(json.dumps(instance).encode()) == validator.is_valid(instance), instance


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "number", "multipleOf": 0.01},
        {"type": "number", "multipleOf": 0.1, "minimum": 0, "maximum": 1_000_000_000},
        {"type": "number", "multipleOf": 0.001, "exclusiveMinimum": -5, "maximum": 5},
    ],
)
def test_decimal_multiple_of_is_exact(schema):
    """``multipleOf: 10**-k``: at most k fractional digits before trailing zeros, within the
    bounds.  Checked with exact fractions (float validators misjudge 1.255 / 0.001)."""
    from fractions import Fraction

    dfa = dfa_for(schema)
    step = Fraction(str(schema["multipleOf"]))
    low = Fraction(schema.get("minimum", schema.get("exclusiveMinimum", -(10**12))))
    high = Fraction(schema.get("maximum", 10**12))
    for text in ["1", "1.5", "1.25", "1.250", "1.255", "-0.01", "0.0001", "5", "5.001", "-5", "-4.999",
                 "1000000000", "1000000000.1", "0.10", "3.0", "-0", "12.3456"]:  # fmt: skip
        value = Fraction(text)
        in_range = (value > low if "exclusiveMinimum" in schema else value >= low) and value <= high
        assert dfa.matches(text.encode()) == (in_range and (value / step).denominator == 1), text


_NUMERALS = [str(n) for n in range(-130, 131)] + [
    "-0", "0.0", "0.00", "1.5", "4.50", "3.0", "-3.000", "0.3", "0.6", "0.60", "1.2", "7.5", "22.5",
    "0.15", "0.45", "10.05", "-2.25", "1000000", "1000005", "999999", "-4.2", "0.10", "12.000",
]  # fmt: skip


def _numerals(seed: int, count: int = 300) -> list[str]:
    rng = random.Random(seed)
    texts = list(_NUMERALS)
    for _ in range(count):
        fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4)))
        texts.append(f"{rng.choice(['', '-'])}{rng.randint(0, 400)}.{fraction}")
    return texts


@pytest.mark.parametrize("step", ["7", "30", "3/2", "3/10", "1", "1/3", "12", "5/4", "2", "1/7", "2/5"])
def test_residue_automaton_accepts_exactly_the_multiples(step):
    """`Multiples` (a residue automaton) and `non_multiples` against exact fractions, on plain
    numerals; exponent spellings and malformed numerals are in neither."""
    from fractions import Fraction

    from automask.compiler.json_schema.json_ast import PLAIN_NUMERALS
    from automask.compiler.json_schema.multiples import Multiples, is_multiple_reference, non_multiples

    divisor = Fraction(step)
    positive, negative = ast_to_dfa(Multiples(divisor)), ast_to_dfa(non_multiples([divisor]))
    plain = ast_to_dfa(PLAIN_NUMERALS)
    for text in [*_numerals(len(step)), "1e3", "21e0", "01", "1.", ".5", "--1", "-", "1.5e1"]:
        is_plain = plain.matches(text.encode())
        expected = is_plain and is_multiple_reference(text, divisor)
        assert positive.matches(text.encode()) == expected, text
        assert negative.matches(text.encode()) == (is_plain and not expected), text


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "multipleOf": 7},
        {"type": "number", "multipleOf": 1.5},
        {"type": "number", "multipleOf": 0.3, "minimum": -50, "exclusiveMaximum": 100},
        {"type": "integer", "multipleOf": 7, "minimum": 0, "maximum": 1_000_000},
        {"type": "number", "not": {"type": "integer"}},
        {"not": {"multipleOf": 3}},
        {"type": "number", "not": {"multipleOf": 0.5}, "maximum": 20},
        {"oneOf": [{"type": "integer"}, {"type": "number"}]},
        {"oneOf": [{"multipleOf": 3}, {"multipleOf": 5}], "type": "integer"},
        {"allOf": [{"multipleOf": 0.5}, {"multipleOf": 0.3}]},
        {"type": "integer", "oneOf": [{"multipleOf": 2}, {"multipleOf": 3}], "not": {"multipleOf": 7}},
        {
            "type": "number",
            "allOf": [
                {"minimum": 1},
                {"anyOf": [{"multipleOf": 5}, {"multipleOf": 10}]},
                {"anyOf": [{"not": {"multipleOf": 5}}, {"multipleOf": 7}]},
            ],
        },
    ],
)
def test_multiples_and_their_complements_agree_with_jsonschema(schema):
    """Steps without a small enumeration (residue automata), ``not integer`` and ``not
    multipleOf`` (their complements) and ``oneOf`` that needs them: plain numerals are judged
    exactly (decimal arithmetic: float validators misjudge 0.3 * 3); exponent spellings of
    numbers (not produced, documented) and other types are judged by `jsonschema`."""
    from decimal import Decimal

    dfa = dfa_for(schema)
    validator = jsonschema.Draft202012Validator(schema)
    integral = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer",
        lambda _, value: (
            (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, Decimal) and value == value.to_integral_value())
        ),
    )
    exact = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=integral)(
        json.loads(json.dumps(schema), parse_float=Decimal)
    )
    for text in _numerals(7, 150):
        expected = exact.is_valid(json.loads(text, parse_float=Decimal))
        assert dfa.matches(text.encode()) == expected, text
    for instance in ["a", None, True, [], {}]:
        assert dfa.matches(json.dumps(instance).encode()) == validator.is_valid(instance), instance
    for text in ["1e1", "2.1e1", "3E0"]:  # exponent spellings: never accepted here
        assert not dfa.matches(text.encode()), text


def test_common_multiple_of_decimal_steps():
    from automask.compiler.json_schema.combinators import _common_multiple

    assert _common_multiple(2, 3) == 6
    assert _common_multiple(0.5, 0.3) == 1.5
    assert _common_multiple(1.5, 2) == 6
    assert _common_multiple(0.1, 0.25) == 0.5
    assert _common_multiple(True, 2) is None


_ARRAYS = [[], [1], [2], [1, 2], [1, 1], [1, 1, 1], ["a"], [1, "a"], ["a", "a"], [2, 2, 2], [1, "a", 1],
           [1.0], [1.5, 1], [[1]], [None, 1, 2, 1]]  # fmt: skip
_SCALARS = ["x", None, {}, 0, 1, 1.0, 2, -3, 2.5, "a", True]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "items": {"type": "integer"}, "contains": {"const": 1}},
        {"type": "array", "items": {"type": "integer"}, "contains": {"const": 1}, "minContains": 2},
        {"type": "array", "contains": {"const": 1}, "maxContains": 1},
        {
            "type": "array",
            "items": {"type": "integer"},
            "contains": {"const": 1},
            "minContains": 0,
            "maxContains": 1,
        },
        {"type": "array", "contains": {"type": "integer"}, "minContains": 2, "maxContains": 2},
        {"contains": {"type": "integer"}, "minContains": 3, "maxContains": 2},
        {"not": {"items": {"type": "integer"}}},
        {"not": {"contains": {"type": "string"}}},
        {"oneOf": [{"items": {"type": "integer"}}, {"items": {"const": 1}}]},
        {
            "oneOf": [
                {"type": "array", "items": {"type": "number"}},
                {"type": "array", "items": {"type": "string"}},
            ]
        },
        {"allOf": [{"minContains": 0}, {"contains": {"const": 1}}]},
        {"allOf": [{"maxContains": 0}, {"contains": {"const": 1}}]},
        {"not": {"const": 1}},
        {"not": {"enum": [1, 2.5, "a", None]}},
        {"if": {"contains": {"type": "string"}}, "then": {"multipleOf": 2}},
    ],
)
def test_contains_counts_and_array_complements_agree_with_jsonschema(schema):
    """``contains`` next to ``items`` (the matching elements are items that match), with
    ``maxContains`` (the other elements are items that do not: a complement); the complements
    of ``items`` (some element fails), of ``contains`` (no element matches) and of numeric
    ``enum``/``const`` (open intervals), as ``not`` and ``oneOf`` use them; ``min/maxContains``
    of an ``allOf`` part without ``contains`` do nothing."""
    dfa = dfa_for(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in [*_ARRAYS, *_SCALARS]:
        assert dfa.matches(json.dumps(instance).encode()) == validator.is_valid(instance), instance


def test_unanchored_alternatives_share_their_ends():
    """``a|b|...`` matched anywhere is ``.*(a|b|...).*``: as ``.*a.*|.*b.*|...`` its subset
    construction tracked which words had matched (2**18 subsets here, past ``max_dfa_states``)."""
    words = ["Normal", "Fighting", "Flying", "Poison", "Ground", "Rock", "Bug", "Ghost", "Steel",
             "Fire", "Water", "Grass", "Electric", "Psychic", "Ice", "Dragon", "Dark", "Fairy"]  # fmt: skip
    schema = {
        "type": "object",
        "patternProperties": {"|".join(words): {"type": "number", "minimum": 0, "maximum": 2}},
        "additionalProperties": False,
    }
    dfa = dfa_for(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in [{}, {"Fire": 1}, {"xFirey": 2}, {"Fire": 3}, {"Wind": 1}, {"IceDragon": 0.5, "Bug": 0}]:
        assert dfa.matches(json.dumps(instance).encode()) == validator.is_valid(instance), instance
    anywhere = dfa_for({"type": "string", "pattern": "^a|b$|c|d|^e$"})
    for text in ["a", "xa", "b", "bx", "xcx", "d", "e", "xe", "ex", "x"]:
        assert anywhere.matches(json.dumps(text).encode()) == jsonschema.Draft202012Validator(
            {"type": "string", "pattern": "^a|b$|c|d|^e$"}
        ).is_valid(text), text


_VALUES = [{}, {"a": 1}, {"a": 1, "b": 2}, {"a": 2}, {"b": 2}, {"a": 1, "c": 3}, {"a": "x"}, {"a": [1]}, [], [1],
           [1, 2], [2, 1], [1, 2, 3], [1, {"a": 1}], [1, {"a": 2}], 1, 1.0, "x", None, {"a": 1, "b": 2, "c": 3},
           {"c": 1}, {"a": 1, "b": 1, "c": 1}]  # fmt: skip


@pytest.mark.parametrize(
    ("schema", "validator"),
    [
        ({"not": {"const": {"a": 1}}}, "Draft202012Validator"),
        ({"not": {"const": {}}}, "Draft202012Validator"),
        ({"not": {"const": [1, 2]}}, "Draft202012Validator"),
        ({"not": {"enum": [{"a": 1, "b": 2}, [1, {"a": 1}], "x", 1]}}, "Draft202012Validator"),
        ({"not": {"dependentRequired": {"a": ["b"]}}}, "Draft202012Validator"),
        ({"not": {"dependentSchemas": {"a": {"required": ["c"]}}}}, "Draft202012Validator"),
        ({"not": {"dependencies": {"a": ["b", "c"]}}}, "Draft7Validator"),
        ({"oneOf": [{"const": {"a": 1}}, {"type": "object", "required": ["a"]}]}, "Draft202012Validator"),
    ],
)
def test_complements_of_container_values_and_dependencies_agree_with_jsonschema(schema, validator):
    """``not``/``oneOf`` over an object or array ``const`` (a key missing, another value, an
    extra key; another length or one element other) and over dependencies (a trigger without
    its names or failing its schema)."""
    dfa = dfa_for(schema)
    oracle = getattr(jsonschema, validator)(schema)
    for instance in _VALUES:
        assert dfa.matches(json.dumps(instance).encode()) == oracle.is_valid(instance), instance


@pytest.mark.parametrize(
    "schema",
    [
        {"propertyNames": {"const": "foo"}},
        {"propertyNames": {"enum": ["foo", "bar"]}},
        {"properties": {"foo": {}}, "propertyNames": {"maxLength": 2}},
        {
            "properties": {"a": {"type": "integer"}},
            "propertyNames": {"pattern": "^[a-z]+$", "not": {"const": "bar"}},
        },
        {"patternProperties": {"^a": {"type": "integer"}}, "propertyNames": {"maxLength": 2}},
        {
            "patternProperties": {"^a": {"type": "integer"}},
            "additionalProperties": False,
            "propertyNames": {"maxLength": 2},
        },
        {"propertyNames": {"type": "integer"}},
    ],
)
def test_property_names_constrain_listed_pattern_and_additional_keys(schema):
    """``propertyNames`` next to ``properties`` and ``patternProperties``: the keys of pattern
    and additional members are intersected with the strings its schema accepts (any keyword)."""
    dfa = dfa_for(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in [{}, {"a": 1}, {"ab": 1}, {"foo": 1}, {"bar": 2}, {"foo": 1, "bar": 2}, {"abc": 1},
                     {"x": 1, "y": 2}, {"\u00e9": 1}, {'a"': 1}, {"a": "x"}, [], "x", 1]:  # fmt: skip
        assert dfa.matches(json.dumps(instance).encode()) == validator.is_valid(instance), instance


def test_residue_node_has_no_plain_regex_and_walkers_stay_conservative():
    """`Multiples` is built as an automaton only: reading its ``items`` fails loudly, and the
    composition check that scans for a delimiter asks the node for its alphabet instead."""
    from fractions import Fraction

    from automask.compiler.json_schema.multiples import Multiples
    from automask.compiler.regex.ast import Concat
    from automask.compiler.regex.compose import _delimited, _mentions

    node = Multiples(Fraction(3))
    with pytest.raises(TypeError):
        _ = node.items
    assert not _mentions(node, ord('"')) and _mentions(node, ord("7")) and _mentions(node, ord("-"))
    assert _delimited(Concat((literal('"'), node, literal('"'))))
    assert not _delimited(Concat((literal("7"), node, literal("7"))))
    assert pickle.loads(pickle.dumps(node)) == node and hash(node) == hash(Multiples(Fraction(6, 2)))


_FORMAT_VALUES = ["1.2.3.4", "01.2.3.4", "256.1.1.1", "1.2.3", "::1", "1::2:3", "::ffff:1.2.3.4", "fe80::1%eth0",
                  "abc", "", "2020-01-01", "2020-02-30", "2000-02-29", "1900-02-29", "2020-1-01",
                  "123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000", 1, None, [1]]  # fmt: skip


@pytest.mark.parametrize(
    "schema",
    [
        {"not": {"format": "ipv4"}},
        {"type": "string", "not": {"format": "uuid"}},
        {"not": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}},
        {"oneOf": [{"format": "host-name"}, {"format": "ipv4"}, {"format": "ipv6"}]},
        {"oneOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 8}]},
        {"enum": ["2020-01-01", "x", "1.2.3.4", 1], "not": {"format": "date"}},
        {"anyOf": [{"type": "integer"}, {"not": {"format": "no-such-format"}}]},
    ],
)
def test_complements_of_exact_formats_agree_with_jsonschema(schema):
    """``not``/``oneOf`` over an exact format (date, ipv4, ipv6, uuid: the automaton is the
    format's language) take the other strings; an unknown format constrains nothing, so its
    complement is empty (the oracle checks these four formats with the standard library)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unknown formats' annotation warning
        dfa = dfa_for(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for instance in _FORMAT_VALUES:
        assert dfa.matches(json.dumps(instance).encode()) == validator.is_valid(instance), instance


@pytest.mark.parametrize("name", ["email", "hostname", "time", "uri"])
def test_inexact_formats_have_no_complement(name):
    """A format whose automaton is a strict subset of the RFC's has no exact complement: refused."""
    with pytest.raises(UnsupportedFeature, match="not"):
        dfa_for({"not": {"format": name}})


def test_duration_complement_is_the_other_strings():
    """``duration`` (the oracle does not check it without an extra package): its complement
    holds exactly the strings the format's automaton refuses."""
    inside = dfa_for({"type": "string", "format": "duration"})
    outside = dfa_for({"type": "string", "not": {"format": "duration"}})
    for text in ["P1D", "PT1H", "P1Y2M3DT4H5M6S", "P2W", "PT", "P", "P1H", "1D", "P1W2D", ""]:
        encoded = json.dumps(text).encode()
        assert inside.matches(encoded) != outside.matches(encoded), text
    assert inside.matches(b'"P1Y2M3DT4H5M6S"') and not inside.matches(b'"P1W2D"')


@pytest.mark.parametrize(
    "schema",
    [
        {"allOf": [{"contains": {"const": 1}}, {"contains": {"const": 1}, "minContains": 0}]},
        {"allOf": [{"contains": {"const": 1}, "minContains": 0}, {"contains": {"const": 1}}]},
        {
            "allOf": [
                {"contains": {"const": 1}, "maxContains": 3},
                {"contains": {"const": 1}, "maxContains": 1},
            ]
        },
        {
            "allOf": [
                {"contains": {"const": 1}, "minContains": 2},
                {"contains": {"const": 1}, "maxContains": 3},
            ]
        },
        {"allOf": [{"contains": {"const": 1}, "minContains": 0}, {"contains": {"const": 2}}]},
    ],
)
def test_merged_contains_counts_tighten(schema):
    """The same ``contains`` in two ``allOf`` parts: an absent ``minContains`` counts as 1, so
    ``minContains: 0`` on one side does not loosen the other (it once accepted ``[]`` here)."""
    dfa = dfa_for(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in [[], [1], [1, 1], [1, 1, 1], [2], [1, 2], [1, 1, 1, 1], [2, 2]]:
        assert dfa.matches(json.dumps(instance).encode()) == validator.is_valid(instance), instance
