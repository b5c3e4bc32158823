"""Random valid instances are accepted token by token (llama3).

hypothesis-jsonschema 0.23 does not work with current hypothesis (its object strategy calls a
removed internal API), so each schema here has a hand-written hypothesis strategy.  Each
instance is checked with `jsonschema`, put into the schema's property order (the order
automask enforces, as the issue specifies), then serialised in three whitespace styles: compact separators, `json.dumps`' default, and
2-space indentation (shallow enough that every whitespace run stays within the default
``max_whitespace`` of 16).  Every token must be allowed, and EOS exactly at the end.

Bounded numbers accept exponent notation only as ``json.dumps`` writes small floats (see
`compiler.json_schema.numbers`); the bounded ``score`` below is drawn from all floats in range.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_schema_suite_report import TokenChecker

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 4},
        "score": {"type": "number", "exclusiveMinimum": -1.5, "maximum": 1000},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
TOOL_CALL = {
    "type": "object",
    "properties": {
        "function": {"const": "get_weather"},
        "arguments": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "pattern": "^[A-Z][a-z]+$"},
                "unit": {"enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 14},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
    "required": ["function", "arguments"],
    "additionalProperties": False,
}
OPEN_RECORD = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "note": {"type": ["string", "null"]}},
    "required": ["id"],
}
SCHEMAS = {"person": PERSON, "tool_call": TOOL_CALL, "open_record": OPEN_RECORD}

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
FLOATS_IN_RANGE = st.floats(min_value=-1.5, max_value=1000, exclude_min=True, allow_nan=False)
STRATEGIES = {
    "person": st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=20), "age": st.integers(0, 150)},
        optional={
            "email": st.from_regex(r"[a-z0-9.]{1,8}@[a-z]{1,8}\.(com|org)", fullmatch=True),
            "tags": st.lists(st.sampled_from(["a", "b", "c"]), max_size=4),
            "score": FLOATS_IN_RANGE | st.integers(-1, 1000),
        },
    ),
    "tool_call": st.fixed_dictionaries(
        {
            "function": st.just("get_weather"),
            "arguments": st.fixed_dictionaries(
                {"city": st.from_regex(r"[A-Z][a-z]{1,12}", fullmatch=True)},
                optional={"unit": st.sampled_from(["celsius", "fahrenheit"]), "days": st.integers(1, 14)},
            ),
        }
    ),
    "open_record": st.fixed_dictionaries(
        {"id": st.integers()},
        optional={"note": st.none() | st.text()},
    ).flatmap(
        lambda record: st.dictionaries(
            st.text(max_size=6).filter(lambda key: key not in ("id", "note")), JSON_VALUES, max_size=2
        ).map(lambda extra: {**record, **extra})
    ),
}
STYLES = {
    "compact": {"separators": (",", ":")},
    "default": {},
    "indent": {"indent": 2},
}


def in_schema_order(instance, schema: dict):
    """``instance`` with every object's listed properties first, in ``properties`` order."""
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        ordered = {
            key: in_schema_order(instance[key], properties[key]) for key in properties if key in instance
        }
        ordered.update({key: value for key, value in instance.items() if key not in properties})
        return ordered
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [in_schema_order(item, schema["items"]) for item in instance]
    return instance


@pytest.fixture(scope="module")
def checker(vocabularies, tokenizers):
    return TokenChecker(vocabularies("llama3"), tokenizers("llama3"))


@pytest.fixture(scope="module")
def compiled(checker):
    return {name: checker.compile(schema) for name, schema in SCHEMAS.items()}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_random_valid_instances_are_accepted_in_every_whitespace_style(name, checker, compiled):
    schema = SCHEMAS[name]
    grammar = compiled[name]

    @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(STRATEGIES[name])
    def check(instance):
        jsonschema.validate(instance, schema)
        ordered = in_schema_order(instance, schema)
        for style, options in STYLES.items():
            text = json.dumps(ordered, ensure_ascii=False, **options)
            assert checker.accepts(grammar, text), (style, text)

    check()


def test_instances_outside_the_schema_are_refused(checker, compiled):
    # the same generator's instances, broken in ways the schema forbids
    assert not checker.accepts(compiled["person"], json.dumps({"name": "", "age": 3}))
    assert not checker.accepts(compiled["person"], json.dumps({"name": "x", "age": 151}))
    assert not checker.accepts(
        compiled["tool_call"], json.dumps({"function": "get_weather", "arguments": {"city": "paris"}})
    )
    assert not checker.accepts(compiled["open_record"], json.dumps({"id": 1.5}))
