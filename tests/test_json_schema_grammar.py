"""The context-free JSON-Schema back-end (`compiler/json_schema/to_grammar.py`).

Character level: the grammar IR is judged by the reference Earley recognizer against
`jsonschema` validation.  Token level: `compile_json_schema(backend="cfg")` with the Llama-3
vocabulary, the canonical tokenization fed through the matcher, EOS allowed exactly at the end.
"""

from __future__ import annotations

import itertools
import json
import warnings

import pytest
from json_schema_suite_report import TokenChecker

from automask.compiler.grammar.earley_reference import accepts
from automask.compiler.json_schema.options import JsonSchemaOptions
from automask.compiler.json_schema.to_grammar import WS, schema_to_grammar
from automask.compiler.regex import ast_to_dfa
from automask.errors import EmptyLanguage, UnsupportedFeature
from automask.json_schema_api import compile_json_schema

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (test extra) is the validation oracle")

TREE = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
            "required": ["value"],
            "additionalProperties": False,
        }
    },
    "$ref": "#/$defs/node",
}


def deep_tree(depth: int) -> dict:
    node: dict = {"value": depth}
    for level in range(depth - 1, -1, -1):
        node = {"value": level, "children": [node]}
    return node


def nested_lists(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value, {"k": value}]
    return value


def agrees(schema, instances, options: JsonSchemaOptions | None = None) -> None:
    grammar, _ = schema_to_grammar(schema, options or JsonSchemaOptions())
    older = isinstance(schema, dict) and "dependencies" in schema  # draft-7 spelling
    validator = (jsonschema.Draft7Validator if older else jsonschema.Draft202012Validator)(schema)
    for instance in instances:
        expected = validator.is_valid(instance)
        text = json.dumps(instance, ensure_ascii=False)
        assert accepts(grammar, text) == expected, (schema, text, expected)


def test_recursive_ref_is_exact_at_any_depth():
    instances = [deep_tree(1), deep_tree(8), {"value": "x"}, {"children": []}, {"value": 1, "extra": 2}]
    agrees(TREE, instances)
    agrees(TREE, instances, JsonSchemaOptions(max_nesting=0))  # the DFA back-end's bound is not used


def test_generic_json_is_unbounded():
    agrees(True, [nested_lists(6), "s", 1.5e10, None, {"a": {"b": {"c": {"d": [1, 2, [3]]}}}}])
    agrees({"type": "object", "properties": {"a": {"type": "string"}}}, [{"a": "x", "z": nested_lists(5)}])


def test_recursion_through_the_root_and_arrays():
    schema = {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"$ref": "#"}]}}
    agrees(schema, [[1, [2, [3, [4, [5, [6]]]]]], [1, ["x"]], [[[[[[[]]]]]]]])


@pytest.mark.parametrize(
    ("schema", "instances"),
    [
        (
            {"dependentRequired": {"a": ["b"]}, "properties": {"a": {}, "b": {}}},
            [{}, {"a": 1}, {"a": 1, "b": 2}, {"b": 2}, [1], "x"],
        ),
        (
            {"dependencies": {"a": ["b"], "c": {"required": ["d"]}}, "properties": {k: {} for k in "abcd"}},
            [{}, {"a": 1, "b": 1}, {"a": 1}, {"c": 1}, {"c": 1, "d": 2}, {"a": 1, "b": 1, "c": 1, "d": 1}],
        ),
        (
            {"dependentSchemas": {"a": {"properties": {"b": {"type": "integer"}}}}, "properties": {"a": {}}},
            [{"a": 1, "b": 2}, {"a": 1, "b": "x"}, {"b": "x"}, {}],
        ),
        (
            {"if": {"type": "integer"}, "then": {"minimum": 3}, "else": {"type": "string"}},
            [1, 3, 7, "x", None, 2.5],
        ),
        ({"if": {"type": "integer"}, "else": {"type": "string"}}, [1, "x", None]),
        (
            {"properties": {"a": {"type": "integer"}}, "unevaluatedProperties": False},
            [{"a": 1}, {"a": 1, "b": 2}, {}],
        ),
        (
            {"prefixItems": [{"type": "integer"}], "unevaluatedItems": {"type": "string"}},
            [[1], [1, "x"], [1, 2], []],
        ),
        (
            {
                "propertyNames": {"maxLength": 2, "pattern": "^[a-z]+$"},
                "additionalProperties": {"type": "integer"},
            },
            [{}, {"ab": 1}, {"abc": 1}, {"A": 1}, {"ab": "x"}, {"a": 1, "b": 2}],
        ),
        ({"propertyNames": False}, [{}, {"a": 1}, [1]]),
        (
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 2,
                "properties": {"a": {}, "b": {}, "c": {}},
            },
            [{}, {"a": 1}, {"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3}],
        ),
        ({"not": {"maxItems": 2}}, [[1, 2, 3], [1, 2], [], "a", 1, None, {"a": 1}]),
        ({"type": ["string", "null"], "not": {"minItems": 0}}, ["a", None, []]),
        ({"not": {"maximum": 3.0}}, [3, 3.5, 4, 2, "a", None]),
        ({"type": "integer", "not": {"minimum": -2}}, [-3, -2, 0, 2.5]),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}], "not": {"maxLength": 1}}, ["ab", "a", 3]),
        ({"not": {"exclusiveMinimum": 1.5}}, [1.5, 1, 2, "x"]),
        ({"type": "integer", "not": {"not": {"minimum": 2}}}, [1, 2, 3, "x"]),
        (
            {"properties": {"a": {"not": {"maxProperties": 1}}}},
            [{"a": {}}, {"a": {"x": 1, "y": 2}}, {"a": 1}],
        ),
        # complements (negation.py): not, oneOf minus overlapping branches, if/then/else
        ({"not": {"required": ["a"]}}, [{}, {"a": 1}, {"b": 1}, 1, "x", None, []]),
        ({"not": {"properties": {"a": {"type": "string"}}}}, [{}, {"a": 1}, {"a": "x"}, 1, []]),
        ({"not": {"anyOf": [{"type": "string"}, {"required": ["a"]}]}}, [{}, {"a": 1}, "x", 1, None, [1]]),
        ({"not": {"allOf": [{"type": "object"}, {"maxProperties": 1}]}}, [{}, {"a": 1}, {"a": 1, "b": 2}, 1]),
        (
            {
                "type": "object",
                "properties": {"length": {"type": "number"}, "radius": {"type": "number"}, "height": {}},
                "oneOf": [
                    {"required": ["length"]},
                    {"required": ["radius"]},
                    {"required": ["radius", "height"]},
                ],
            },
            [
                {},
                {"length": 1},
                {"radius": 1},
                {"radius": 1, "height": 2},
                {"length": 1, "radius": 2},
                {"height": 1},
            ],
        ),
        (
            {"oneOf": [{"required": ["name", "styleName"]}, {"required": ["name", "styleUrl"]}]},
            [
                {},
                {"name": "a", "styleName": "b"},
                {"name": "a", "styleUrl": "c"},
                {"name": "a", "styleName": "b", "styleUrl": "c"},
                "s",
                None,
            ],
        ),
        (
            {
                "type": "object",
                "properties": {"is": {"type": "string"}},
                "oneOf": [
                    {"properties": {"is": {"const": "queue"}}, "required": ["queue"]},
                    {"properties": {"is": {"const": "routingKey"}}, "required": ["exchange"]},
                ],
            },
            [
                {},
                {"queue": 1},
                {"exchange": 1},
                {"queue": 1, "exchange": 2},
                {"is": "queue", "queue": 1, "exchange": 2},
            ],
        ),
        (
            {"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"maxProperties": 0}},
            [{}, {"a": 1}, {"a": 1, "b": 2}, {"b": 2}, 3],
        ),
    ],
)
def test_rewritten_keywords_agree_with_jsonschema(schema, instances):
    agrees(schema, instances)


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"allOf": [{"properties": {"a": {}}}], "unevaluatedProperties": False}, "#/unevaluatedProperties"),
        ({"$ref": "#/$defs/a", "$defs": {"a": {}}, "unevaluatedItems": False}, "#/unevaluatedItems"),
        ({"if": {"prefixItems": [{"type": "string"}]}, "then": {"type": "integer"}}, "#/if"),
        ({"$dynamicRef": "#x"}, "#/$dynamicRef"),
        ({"properties": {"a": {}}, "propertyNames": {"format": "idn-email"}}, "#/propertyNames"),
    ],
)
def test_irreducible_keywords_are_refused_with_their_pointer(schema, pointer):
    with pytest.raises(UnsupportedFeature) as info:
        schema_to_grammar(schema)
    assert pointer in str(info.value)


def test_lenient_warns_and_names_the_ignored_keyword():
    schema = {"if": {"prefixItems": [{"type": "string"}]}, "then": {"type": "integer"}}
    with pytest.warns(UserWarning, match="if"):
        grammar, _ = schema_to_grammar(schema, JsonSchemaOptions(lenient=True))
    assert accepts(grammar, '"anything"')


def test_leaves_are_shared_terminals_and_whitespace_joins_punctuation():
    """Equal leaves are one terminal across schemas; blanks belong to the punctuation next to
    them (``{`` ``[`` ``,`` ``:`` and the closing brackets: fewer parser steps per member),
    each run still bounded by ``max_whitespace``."""
    first, _ = schema_to_grammar({"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}})
    second, _ = schema_to_grammar({"type": "array", "items": {"type": "string", "maxLength": 3}})
    shared = {t.regex for t in first.terminals} & {t.regex for t in second.terminals}
    assert any(
        ast_to_dfa(regex).matches('"aé\\n"'.encode()) and not ast_to_dfa(regex).matches(b'"abcd"')
        for regex in shared
    )
    separator = next(regex for regex in shared if ast_to_dfa(regex).matches(b" ,\n"))
    assert ast_to_dfa(separator).matches(b" " * 16 + b"," + b" " * 16)
    assert not ast_to_dfa(separator).matches(b" " * 17 + b",")
    assert all(t.name != WS for t in first.terminals + second.terminals)  # every run is by a mark
    blanks = " " * 16
    assert accepts(second, f'[{blanks}"a"{blanks},{blanks}"b"{blanks}]')
    assert not accepts(second, f'[ {blanks}"a"]') and not accepts(second, f'["a",{blanks} "b"]')
    assert accepts(first, "{" + blanks + '"a": "x"}') and not accepts(first, "{ " + blanks + '"a": "x"}')
    compact, _ = schema_to_grammar(TREE, JsonSchemaOptions(whitespace="compact"))
    assert all(t.name != WS for t in compact.terminals)
    assert accepts(compact, json.dumps(deep_tree(3), separators=(",", ":")))
    assert not accepts(compact, json.dumps(deep_tree(3)))


def test_schema_terminals_render_their_source_only_on_demand():
    """Schema terminals carry no ``re`` source; `source_text` renders one that Python's ``re``
    reads as the same language (checked on samples), cut with an ellipsis when long."""
    import re

    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}
    grammar, _ = schema_to_grammar(schema)
    assert all(t.pattern is None for t in grammar.terminals)
    number = next(t for t in grammar.terminals if ast_to_dfa(t.regex).matches(b"30"))
    source = number.source_text()
    for text in ["3", "30", "12", "2", "03", "3.0", "-4", "1e2"]:
        assert bool(re.fullmatch(source, text)) == ast_to_dfa(number.regex).matches(text.encode()), text
    generic = next(t for t in grammar.terminals if len(t.source_text(1000)) > 200)
    assert generic.source_text().endswith("...") and len(generic.source_text()) == 123


def test_unsatisfiable_and_reserved_character_schemas():
    grammar, _ = schema_to_grammar({"allOf": [{"type": "string"}, {"type": "integer"}]})
    assert not any(accepts(grammar, text) for text in ('""', "1"))
    with pytest.raises(UnsupportedFeature):
        schema_to_grammar({"const": "\udfff"})


@pytest.fixture(scope="module")
def checker(vocabularies, tokenizers):
    return TokenChecker(vocabularies("llama3"), tokenizers("llama3"))


def test_token_level_recursion_and_eos(checker):
    grammar = checker.compile(TREE)
    for instance, valid in ((deep_tree(6), True), ({"value": 1, "children": [{"value": "x"}]}, False)):
        assert checker.accepts(grammar, json.dumps(instance)) == valid
    # pretty-printed: every indentation run within max_whitespace (16) is accepted, deeper is not
    assert checker.accepts(grammar, json.dumps(deep_tree(3), indent=2))
    assert not checker.accepts(grammar, json.dumps(deep_tree(4), indent=2))


def test_backends_and_auto_choice(checker):
    vocab = checker.vocab
    assert type(compile_json_schema({"type": "integer"}, vocab)).__name__ == "DFAGrammar"
    assert type(compile_json_schema(TREE, vocab)).__name__ == "CFGGrammar"
    regular = compile_json_schema(TREE, vocab, backend="dfa", max_nesting=2)
    assert regular.dfa.matches(json.dumps(deep_tree(1)).encode())
    assert not regular.dfa.matches(json.dumps(deep_tree(6)).encode())
    with pytest.raises(ValueError, match="backend"):
        compile_json_schema(TREE, vocab, backend="nfa")  # type: ignore[arg-type]
    with pytest.raises(EmptyLanguage):
        compile_json_schema(False, vocab)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pretty = compile_json_schema({"type": "object", "additionalProperties": True}, vocab)
    assert checker.accepts(pretty, json.dumps({"a": nested_lists(6), "b": {"c": [1.5, None]}}))


def test_additional_keys_exclude_every_encoding_of_a_listed_name(checker):
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    grammar = checker.compile(schema)
    assert checker.accepts(grammar, '{"id": 1, "name": "x", "idx": [true], "nam": null}')
    assert checker.accepts(grammar, '{"id": 1, "\\u0069\\u0064x": 2, "\\u00e9": 3}')
    for repeated in (
        '"id"',
        '"\\u0069d"',
        '"i\\u0064"',
        '"\\u006E\\u0061me"',
        '"n\\u0061\\u006d\\u0065"',
    ):
        assert not checker.accepts(grammar, '{"id": 1, ' + repeated + ": 2}"), repeated
    assert checker.accepts(grammar, '{"id": 1, "i\\u0044": 2}')  # "iD" differs from "id"


def test_unknown_format_compiles_token_level_with_a_warning(checker):
    from automask.errors import UnknownFormatWarning

    schema = {
        "type": "object",
        "properties": {"p": {"type": "string", "format": "country-code"}},
        "required": ["p"],
    }
    with pytest.warns(UnknownFormatWarning, match="country-code"):
        grammar = checker.compile(schema)
    assert checker.accepts(grammar, json.dumps({"p": "any text, not only codes"}))
    assert not checker.accepts(grammar, json.dumps({"p": 3}))


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "maxLength": 600},
        {"type": "string", "minLength": 300, "maxLength": 700},
        {"type": "string", "minLength": 520},
        {"type": "object", "properties": {"d": {"type": "string", "maxLength": 65535}}, "required": ["d"]},
    ],
)
def test_long_strings_are_chunked_and_exact_at_every_boundary(checker, schema):
    """Length bounds past `LONG_STRING` become a chain of chunk nonterminals, exact at each
    chunk boundary and around the bounds (no counting automaton of 65535 copies)."""
    grammar = checker.compile(schema)
    assert type(grammar).__name__ == "CFGGrammar"
    validator = jsonschema.Draft202012Validator(schema)
    for length in (
        0,
        1,
        255,
        256,
        257,
        299,
        300,
        301,
        511,
        512,
        513,
        519,
        520,
        521,
        599,
        600,
        601,
        700,
        701,
        1300,
    ):
        text = ("\u00e9" if length % 3 == 0 else "a\n"[length % 2]) * length
        instance = {"d": text} if schema["type"] == "object" else text
        valid = validator.is_valid(instance)
        assert checker.accepts(grammar, json.dumps(instance, ensure_ascii=length % 2 == 0)) == valid, length


def test_string_length_beyond_the_chunk_limit_is_a_limit_error():
    from automask.compiler.json_schema.to_grammar import MAX_STRING_CHUNKS, STRING_CHUNK
    from automask.errors import CompileLimitExceeded

    schema = {"type": "string", "maxLength": (MAX_STRING_CHUNKS + 1) * STRING_CHUNK}
    with pytest.raises(CompileLimitExceeded, match="maxLength"):
        schema_to_grammar(schema)


@pytest.mark.parametrize(
    ("schema", "instances"),
    [
        (
            {"type": "string", "pattern": "^[a-z]+:[a-z0-9]+$", "minLength": 5, "maxLength": 12},
            ["ab:cd", "a:b", "abcdef:ghijk", "abcdefgh:ijklm", "ab:c1", "AB:cd", "abcd", "\u00e9b:cd"],
        ),
        (
            {"type": "string", "pattern": "x", "maxLength": 4},
            ["x", "axbc", "abcd", "axbcd", "", "\u00e9x\u00e9"],
        ),
        (
            {"type": "string", "format": "date", "pattern": "^2024"},
            ["2024-02-29", "2023-02-28", "2024-13-01"],
        ),
    ],
)
def test_pattern_with_length_or_format_is_an_exact_intersection(checker, schema, instances):
    """`pattern` with `minLength`/`maxLength` or `format`: the product of the two automata, on
    both back-ends, agreeing with jsonschema (format checked) token by token."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for backend in ("cfg", "dfa"):
        grammar = compile_json_schema(schema, checker.vocab, backend=backend)
        for instance in instances:
            for text in (json.dumps(instance), json.dumps(instance, ensure_ascii=False)):
                assert checker.accepts(grammar, text) == validator.is_valid(instance), (backend, text)


def test_draft4_integers_have_no_fraction(checker):
    """Draft 4 (``$schema``) reads ``12345.0`` as a non-integer; draft 6 on, as an integer."""
    for dialect, fraction_ok in (
        ("http://json-schema.org/draft-04/schema#", False),
        ("https://json-schema.org/draft/2020-12/schema", True),
        (None, True),
    ):
        schema = {"type": "object", "properties": {"userId": {"type": "integer"}}}
        if dialect:
            schema["$schema"] = dialect
        grammar = checker.compile(schema)
        assert checker.accepts(grammar, '{"userId": 12345}')
        assert checker.accepts(grammar, '{"userId": 12345.0}') == fraction_ok, dialect
        assert not checker.accepts(grammar, '{"userId": 12345.5}')


@pytest.mark.parametrize("additional", [True, {"type": "integer"}])
def test_pattern_properties_with_additional_properties(checker, additional):
    """Keys matching a pattern take its schema; the other unlisted keys take additionalProperties
    (their key language is a difference of automata), in every spelling."""
    schema = {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "patternProperties": {"^x-": {"type": "boolean"}},
        "additionalProperties": additional,
    }
    validator = jsonschema.Draft202012Validator(schema)
    grammar = checker.compile(schema)
    for instance in (
        {"id": "a", "x-flag": True},
        {"id": "a", "x-flag": 3},
        {"id": "a", "other": 3},
        {"id": "a", "other": "text"},
        {"x-a": False, "y": 1},
        {"id": "a", "x-": None},
    ):
        for text in (json.dumps(instance), json.dumps(instance).replace('"x-', '"\\u0078-')):
            assert checker.accepts(grammar, text) == validator.is_valid(instance), text


@pytest.mark.parametrize(
    ("schema", "instances"),
    [
        (
            {
                "allOf": [
                    {"enum": [{"foo": 1, "vroom": 2}, {"foo": 1}, {"bar": "x"}, 3]},
                    {
                        "not": {
                            "not": {
                                "additionalProperties": False,
                                "patternProperties": {"^v": {}},
                                "properties": {"bar": {}, "foo": {}},
                            }
                        }
                    },
                ]
            },
            [{"foo": 1, "vroom": 2}, {"foo": 1}, {"bar": "x"}, 3, {"baz": 1}],
        ),
        (
            {"enum": [[1, 2], [1, 2, 3], "ab", "abcd", {"a": [1]}], "maxItems": 2, "maxLength": 3},
            [[1, 2], [1, 2, 3], "ab", "abcd", {"a": [1]}],
        ),
        ({"enum": ["x-1", "y", 7, 7.5], "pattern": "^x-", "multipleOf": 1}, ["x-1", "y", 7, 7.5]),
        ({"enum": ["ab", "abc", "x"], "pattern": "b", "maxLength": 2}, ["ab", "abc", "x"]),
        # format and pattern: a product of automata, which the recognizer leaves to the automaton
        # (`jsonschema` does not assert formats by default: only format-independent instances)
        ({"enum": ["a@b.co", "b@c.de", "a"], "format": "email", "pattern": "^a"}, ["a@b.co", "b@c.de"]),
    ],
)
def test_enum_values_filtered_by_the_rest_of_the_schema(schema, instances):
    """An enum next to other keywords keeps the values those keywords accept: decided on the
    schema's grammar (Earley) on the CFG path, on its automaton on the regular path, the same
    values, and what `jsonschema` says."""
    from automask.compiler.json_schema.compile import SchemaCompiler
    from automask.compiler.json_schema.to_grammar import GrammarSchemaCompiler

    agrees(schema, instances)
    rest = {k: v for k, v in schema.items() if k != "enum"} or {"type": "object"}
    values = list(schema.get("enum", instances))
    kinds = {"type": ["null", "boolean", "integer", "number", "string", "array", "object"]}
    check = {**rest, **kinds}
    by_grammar = GrammarSchemaCompiler(schema).values_accepted(check, "", 3, values)
    by_automaton = SchemaCompiler(schema).values_accepted(check, "", 3, values)
    assert by_grammar == by_automaton


COMPLEMENT_CASES = [
    # complements of string/boolean/null values, of patterns, of closed objects (products of
    # automata, which the reference recognizer has no rules for: checked through the engine)
    ({"not": {"const": "x"}}, ["x", "y", "", 1, None, True, [], {}]),
    ({"type": "string", "not": {"enum": ["a", 'b"c']}}, ["a", 'b"c', "bc", "c"]),
    ({"not": {"enum": [None, False]}}, [None, False, True, 0, ""]),
    (
        {
            "type": "object",
            "properties": {"isMember": {"type": "boolean"}},
            "required": ["isMember"],
            "if": {"properties": {"isMember": {"const": True}}},
            "then": {"required": ["n"]},
        },
        [
            {"isMember": True},
            {"isMember": True, "n": 1},
            {"isMember": False},
            {"isMember": False, "n": 1},
        ],
    ),
    (
        {
            "type": "object",
            "properties": {"kind": {"type": "string"}},
            "oneOf": [
                {"properties": {"kind": {"const": "a"}}},
                {"properties": {"kind": {"const": "b"}}, "required": ["x"]},
            ],
        },
        [{}, {"kind": "a"}, {"kind": "b"}, {"kind": "b", "x": 1}, {"kind": "c", "x": 1}, {"x": 1}],
    ),
    ({"type": "string", "not": {"pattern": "[^a-z ]"}}, ["ab c", "abC", "a-b", ""]),
    (
        {
            "oneOf": [
                {"type": "object", "additionalProperties": False, "properties": {"foo": {"type": "string"}}},
                {"type": "object", "additionalProperties": False, "properties": {"bar": {"type": "string"}}},
            ]
        },
        [{}, {"foo": "x"}, {"bar": "y"}, {"foo": "x", "bar": "y"}, {"baz": 1}],
    ),
    # overlapping patternProperties (intersections and differences of key automata)
    (
        {
            "type": "object",
            "patternProperties": {"a": {"type": "number", "minimum": 10}, "b": {"type": "integer"}},
            "properties": {"ab": {"maximum": 20}},
            "additionalProperties": False,
        },
        [
            {},
            {"a": 11},
            {"a": 5},
            {"b": 1.5},
            {"ab": 12},
            {"ab": 12.5},
            {"xaby": 11},
            {"xaby": 11.5},
            {"d": 1},
        ],
    ),
]


@pytest.mark.parametrize(("schema", "instances"), COMPLEMENT_CASES)
def test_complements_agree_with_jsonschema_token_by_token(checker, schema, instances):
    compiled = checker.compile(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in instances:
        text = json.dumps(instance, ensure_ascii=False)
        assert checker.accepts(compiled, text) == validator.is_valid(instance), (schema, text)


_OBJECTS = [{}, {"0": 1}, {"a": 1}, {"a": "x"}, {"ab": 1}, {"ab": "s", "c": 1}, {"b": 1}, {"b": "s"}, {"c": 1},
            {"c": "s"}, {"x1": 1}, {"1": 1, "2": 2}, {"3": 0}, {"1": 0, "3": 0}, {"a": 1, "b": 2},
            {"a": 1, "b": 2, "c": 3}, {"a": 1, "b": "s"}, {"a": "s", "b": 1}, {"a": "s", "b": "t"}, [], 1, "s"]  # fmt: skip

MEMBER_CASES = [
    {"type": "object", "not": {"propertyNames": {"not": {"const": "0"}}}},  # a key "0" exists
    {"type": "object", "not": {"propertyNames": False}},  # some key exists
    {"not": {"patternProperties": {"a": {"type": "integer"}}}},
    {"not": {"additionalProperties": {"type": "integer"}, "properties": {"a": {}}}},
    {"not": {"additionalProperties": False, "patternProperties": {"^x": True}}},
    {"properties": {"a": {"type": "integer"}}, "not": {"propertyNames": {"maxLength": 1}}},
    {"type": "object", "minProperties": 1, "not": {"propertyNames": {"pattern": "^[ab]"}}},
    # two requirements at once: one key-only, one valued; and two valued ones
    {"properties": {"a": {}, "b": {}}, "allOf": [{"not": {"propertyNames": {"maxLength": 1}}}, {"not": {"patternProperties": {"b": {"type": "string"}}}}]},
    {"properties": {"a": {}, "b": {}}, "not": {"anyOf": [{"patternProperties": {"a": {"type": "string"}}}, {"patternProperties": {"b": {"type": "integer"}}}]}},
    {"oneOf": [{"patternProperties": {"^a": {"type": "integer"}}}, {"propertyNames": {"maxLength": 1}}]},
    {"if": {"patternProperties": {"^a": {"type": "string"}}}, "then": {"type": "object"}, "else": {"required": ["a"]}},
]  # fmt: skip


@pytest.mark.parametrize("schema", MEMBER_CASES, ids=[json.dumps(case)[:60] for case in MEMBER_CASES])
def test_member_requirements_agree_with_jsonschema(checker, schema):
    """Complements of ``propertyNames``, ``patternProperties`` and ``additionalProperties``: some
        member whose key is in a language and whose value satisfies a schema, one or several at
        once (`objects._members_with_witnesses`), token by token (the key languages are automaton
    products, which the Earley reference cannot spell).
        Instances keep the schema's member order (the front-end's documented shape)."""
    compiled = checker.compile(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in _OBJECTS:
        text = json.dumps(instance, ensure_ascii=False)
        assert checker.accepts(compiled, text) == validator.is_valid(instance), (schema, text)


def test_too_many_member_requirements_or_a_count_beside_them_are_refused():
    four = {"not": {"anyOf": [{"propertyNames": {"not": {"const": name}}} for name in "abcd"]}}
    with pytest.raises(UnsupportedFeature, match="more than 3"):
        schema_to_grammar({"type": "object", **four}, JsonSchemaOptions())
    counted = {"type": "object", "maxProperties": 3, "not": {"propertyNames": {"maxLength": 1}}}
    with pytest.raises(UnsupportedFeature, match="maxProperties"):
        schema_to_grammar(counted, JsonSchemaOptions())


_ARRAYS = [
    [],
    [1],
    [2],
    [1, 2],
    [2, 1],
    [3, 1, 3, 2],
    [1, 1],
    ["a"],
    ["a", 7],
    [7, "a"],
    [6],
    ["b", 1, 9],
    {},
    1,
]

CONTAINS_CASES = [
    {"allOf": [{"contains": {"const": 1}}, {"contains": {"const": 2}}]},
    {"items": {"type": ["string", "integer"]}, "allOf": [{"contains": {"type": "string"}}, {"contains": {"minimum": 5}}]},
    {"allOf": [{"contains": {"const": 1}}, {"contains": {"const": 2}}, {"contains": {"minimum": 3}}]},
    {"allOf": [{"contains": {"const": 1}}, {"contains": {"const": 1}, "minContains": 0}, {"contains": {"maximum": 1}}]},
    {"not": {"allOf": [{"contains": {"const": 1}}, {"contains": {"const": 2}}]}},
    {"oneOf": [{"allOf": [{"contains": {"const": 1}}, {"contains": {"const": 2}}]}, {"items": {"maximum": 2}}]},
]  # fmt: skip


@pytest.mark.parametrize("schema", CONTAINS_CASES, ids=[json.dumps(case)[:60] for case in CONTAINS_CASES])
def test_several_contains_agree_with_jsonschema(checker, schema):
    """``allOf`` of several ``contains`` (each "at least one"): the element chain tracks which
    are still unmatched (`witnesses.chain_with_witnesses`); token by token and on the reference."""
    compiled = checker.compile(schema)
    agrees(schema, _ARRAYS)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in _ARRAYS:
        text = json.dumps(instance, ensure_ascii=False)
        assert checker.accepts(compiled, text) == validator.is_valid(instance), (schema, text)


def test_several_contains_with_counts_are_refused():
    counted = {"allOf": [{"contains": {"const": 1}, "minContains": 2}, {"contains": {"const": 2}}]}
    with pytest.raises(UnsupportedFeature, match="contains"):
        schema_to_grammar(counted, JsonSchemaOptions())
    both = {
        "allOf": [{"contains": {"const": 1}, "maxContains": 2}, {"contains": {"const": 2}, "minContains": 2}]
    }
    with pytest.raises(UnsupportedFeature, match="contains"):
        schema_to_grammar(both, JsonSchemaOptions())


_SMALL_ARRAYS = [list(p) for n in range(6) for p in itertools.product([1, 2, "a"], repeat=n)]

COUNTED_CONTAINS_CASES = [
    {"contains": {"const": 1}, "minItems": 2},
    {"contains": {"const": 1}, "maxItems": 3},
    {"contains": {"const": 1}, "minContains": 2, "maxItems": 4},
    {"contains": {"const": 1}, "maxContains": 1, "minItems": 3},
    {"contains": {"const": 1}, "minContains": 0, "maxContains": 2, "minItems": 1, "maxItems": 4},
    {"contains": {"const": 1}, "minContains": 2, "maxContains": 3, "minItems": 4},
    {"items": {"type": "integer"}, "contains": {"const": 1}, "minItems": 3},
    {"contains": {"const": 1}, "minContains": 0, "minItems": 3},  # once accepted [] (review)
    {"contains": {"const": 1}, "minContains": 0, "maxItems": 2},
]


@pytest.mark.parametrize(
    "schema", COUNTED_CONTAINS_CASES, ids=[json.dumps(c)[:60] for c in COUNTED_CONTAINS_CASES]
)
def test_contains_with_item_counts_agrees_with_jsonschema(checker, schema):
    """``contains`` (with or without its own counts) next to ``minItems``/``maxItems``: one chain
    counts elements and matches (`arrays._counted_elements_bounded`); every array of up to five
    elements over three values, on the Earley reference, and token by token on a sample."""
    agrees(schema, _SMALL_ARRAYS)
    compiled = checker.compile(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in _SMALL_ARRAYS[::7]:
        text = json.dumps(instance)
        assert checker.accepts(compiled, text) == validator.is_valid(instance), (schema, text)


PATTERN_MERGE_CASES = [
    {"allOf": [{"patternProperties": {"^a": {"type": "integer"}}}, {"properties": {"ab": {"minimum": 3}, "c": {"type": "string"}}}]},
    {"allOf": [{"properties": {"x": {"type": "string"}}}, {"patternProperties": {"x|y": {"maxLength": 1}}}]},
]  # fmt: skip


@pytest.mark.parametrize("schema", PATTERN_MERGE_CASES, ids=[json.dumps(c)[:60] for c in PATTERN_MERGE_CASES])
def test_pattern_properties_merge_with_open_properties(checker, schema):
    """``allOf`` of ``patternProperties`` and ``properties``, both letting other keys through:
    a listed name a pattern matches takes both schemas, as apart (the merge is exact).  Token by
    token (the pattern keys are automaton products, which the Earley reference cannot spell)."""
    instances = [{}, {"ab": 3}, {"ab": 2}, {"ab": "s"}, {"a": 1}, {"a": 1.5}, {"c": "s"}, {"c": 1},
                 {"x": "s"}, {"x": "st"}, {"y": "s"}, {"y": 12}, {"ab": 4, "c": "s", "ad": 2}]  # fmt: skip
    compiled = checker.compile(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for instance in instances:
        text = json.dumps(instance)
        assert checker.accepts(compiled, text) == validator.is_valid(instance), (schema, text)
    closed = {
        "allOf": [
            {"patternProperties": {"^a": True}, "additionalProperties": False},
            {"properties": {"c": {}}},
        ]
    }
    with pytest.raises(UnsupportedFeature, match="patternProperties"):
        schema_to_grammar(closed, JsonSchemaOptions())
