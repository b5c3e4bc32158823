"""`InstanceChecker` (one value against a schema, exactly or `CannotDecide`) against two oracles:
the JSON-Schema-Test-Suite's expected results and MaskBench's labelled instances.

The compiler trusts its answers inside ``not``, ``oneOf``, ``anyOf`` and ``if`` next to an
``enum``, where a wrong "valid" would let an invalid value through, so every decided answer must
agree with the oracle; the few documented exceptions are listed with their reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from json_schema_suite_report import suite_dir

from automask.compiler.json_schema.instance_check import MAX_DEPTH, CannotDecide, InstanceChecker
from automask.compiler.json_schema.options import DEFAULT_OPTIONS, JsonSchemaOptions
from automask.compiler.limits import DEFAULT_LIMITS
from benchmarks.json_schema_maskbench_sample import maskbench_path, sample

SUITE = suite_dir()
MASKBENCH = maskbench_path()

KNOWN_DISAGREEMENTS = {
    # resolve_ref finds an ``$id`` inside an unknown keyword, as the compiler's $ref does
    ("unknownKeyword.json", "$id inside an unknown keyword is not a real identifier"),
    # a custom meta-schema turning validation off: both read the keywords as usual
    ("vocabulary.json", "schema that uses custom metaschema with with no validation vocabulary"),
    # the compiler asserts formats (draft 2020-12 makes them annotations by default); the exact
    # ones are decided, and optional/format/*.json, where they are assertions, checks them
    *(("format.json", f"{name} format") for name in ("date", "duration", "ipv4", "ipv6", "uuid")),
}


def _checker(schema, **options) -> InstanceChecker:
    return InstanceChecker.for_document(schema, JsonSchemaOptions(**options), DEFAULT_LIMITS)


def _decide(checker: InstanceChecker, schema, data) -> bool | None:
    try:
        return checker.valid(schema, data)
    except CannotDecide:
        return None


@pytest.mark.skipif(SUITE is None, reason="JSON-Schema-Test-Suite data not found (set AUTOMASK_BENCH_DIR)")
def test_every_decided_suite_answer_is_the_expected_one():
    decided, wrong = 0, []
    for path in sorted(Path(SUITE).rglob("*.json")):
        for case in json.loads(path.read_text()):
            checker = _checker(case["schema"])
            for test in case["tests"]:
                answer = _decide(checker, case["schema"], test["data"])
                if answer is None:
                    continue
                decided += 1
                if answer != test["valid"] and (path.name, case["description"]) not in KNOWN_DISAGREEMENTS:
                    wrong.append((path.name, case["description"], test["description"]))
    assert not wrong
    assert decided > 1000  # most of the suite is decided, not skipped


@pytest.mark.skipif(MASKBENCH is None, reason="MaskBench data not found (set AUTOMASK_BENCH_DIR)")
def test_every_decided_maskbench_answer_matches_its_label():
    decided, wrong = 0, []
    for row in sample(MASKBENCH, 1500):
        checker = _checker(row["schema"])
        for test in row["tests"]:
            answer = _decide(checker, row["schema"], test["data"])
            if answer is not None:
                decided += 1
                if answer != test["valid"]:
                    wrong.append(row["id"])
    assert not wrong
    assert decided > 3000


def test_what_it_does_not_decide_it_refuses_to_guess():
    cases = [
        ({"type": "string", "format": "email"}, "a@b.c", "format"),
        ({"unevaluatedProperties": False}, {"a": 1}, "unevaluatedProperties"),
        ({"pattern": "^\\s$"}, "\u2003", "pattern"),  # EM SPACE: ECMA's \s has it
        ({"$ref": "http://example.com/other.json"}, 1, "$ref"),
    ]
    for schema, value, keyword in cases:
        with pytest.raises(CannotDecide) as info:
            _checker(schema).valid(schema, value)
        assert info.value.keyword == keyword
    loop = {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}
    with pytest.raises(CannotDecide, match=str(MAX_DEPTH)):
        _checker(loop).valid(loop, 1)


def test_dialect_and_options_are_the_compilers():
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"}
    assert _checker(draft4).valid(draft4, 1) and not _checker(draft4).valid(draft4, 1.0)
    assert _checker({"type": "integer"}).valid({"type": "integer"}, 1.0)
    conditional = {"if": {"type": "string"}, "then": {"maxLength": 1}}
    draft6 = {"$schema": "http://json-schema.org/draft-06/schema#", **conditional}
    assert not _checker(conditional).valid(conditional, "ab")
    assert _checker(draft6).valid(draft6, "ab")  # if/then are annotations before draft 7
    listed = {"properties": {"a": {}, "b": {}}}
    assert _checker(listed).valid(listed, {"a": 1})
    assert not _checker(listed, strict=True).valid(listed, {"a": 1})  # strict: all required
    assert not _checker(listed, strict=True).valid(listed, {"a": 1, "b": 2, "c": 3})
    assert DEFAULT_OPTIONS.strict is False
