"""Oracles for the JSON-Schema front-end: the official test suite, MaskBench, a real vocabulary.

1. JSON-Schema-Test-Suite draft 2020-12 (the report script adds optional/format), through
   the CFG back-end TOKEN BY TOKEN with the Llama-3 vocabulary (canonical tokenization,
   every token allowed then consumed, EOS allowed exactly at the end): every case either is
   refused at compile time with `UnsupportedFeature` (recorded in docs/json-schema-suite.md)
   or no invalid instance is accepted; a valid instance may be refused only for the
   documented reasons (objects written in another member order, exponent notation, ``format``
   enforced), checked by `_refusal_is_documented`.  The same through the regular (DFA)
   back-end, where nesting beyond ``max_nesting`` is also documented, is marked slow.
2. A fixed sample of 40 MaskBench dev schemas: no invalid instance accepted (DFA level).
3. Token level with the Llama-3 vocabulary through `compile_json_schema` and the matcher.

The data lives outside the repository (``$AUTOMASK_BENCH_DIR`` or ``../shared/bench``); tests
that need it skip with that reason when it is absent.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from json_schema_suite_report import TokenChecker, run_case, suite_dir

from automask.errors import UnknownFormatWarning
from automask.json_schema_api import compile_json_schema
from benchmarks.json_schema_maskbench_sample import check_schema, maskbench_path, sample

SUITE = suite_dir()
MASKBENCH = maskbench_path()


def _has_multi_key_object(value) -> bool:
    if isinstance(value, dict):
        return len(value) > 1 or any(_has_multi_key_object(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_multi_key_object(v) for v in value)
    return False


def _depth(value) -> int:
    if isinstance(value, (dict, list)):
        items = value.values() if isinstance(value, dict) else value
        return 1 + max((_depth(v) for v in items), default=0)
    return 0


def _refusal_is_documented(schema, data, max_depth: int | None = 3) -> bool:
    """Documented under-approximations: fixed member order, ``max_nesting`` (DFA back-end
    only: ``max_depth``), no exponents under bounds, ``format`` enforced (the suite treats
    it as an annotation), embedded ``$id`` resources and custom meta-schemas (refs resolve
    by JSON pointer only)."""
    text = json.dumps(data)
    schema_text = json.dumps(schema)
    return (
        _has_multi_key_object(data)
        or (max_depth is not None and _depth(data) > max_depth)
        or "e" in text.replace("true", "").replace("false", "")
        or any(word in schema_text for word in ('"format"', '"$id"', '"$dynamicAnchor"'))
    )


SUITE_FILES = sorted(p.name for p in SUITE.glob("*.json")) if SUITE is not None else []
MASKBENCH_SAMPLE = sample(MASKBENCH, 40) if MASKBENCH is not None else []


@pytest.fixture(scope="module")
def token_checker(vocabularies, tokenizers):
    return TokenChecker(vocabularies("llama3"), tokenizers("llama3"))


def _check_suite_file(file_name: str, backend: str, tokens: TokenChecker | None) -> None:
    undocumented, invalid_accepted = [], []
    max_depth = 3 if backend == "dfa" else None
    for case in json.loads((SUITE / file_name).read_text()):
        result = run_case(file_name, case, backend, tokens)
        invalid_accepted += [(case["description"], d) for d in result.invalidation_errors]
        for test in case["tests"]:
            if test["description"] in result.validation_errors and not _refusal_is_documented(
                case["schema"], test["data"], max_depth
            ):
                undocumented.append((case["description"], test["description"]))
    assert invalid_accepted == []
    assert undocumented == []


@pytest.mark.skipif(SUITE is None, reason="JSON-Schema-Test-Suite data not found (set AUTOMASK_BENCH_DIR)")
@pytest.mark.parametrize("file_name", SUITE_FILES)
def test_suite_file_token_by_token_on_the_cfg_backend(file_name, token_checker):
    """One test per suite file, so the suite spreads over test workers."""
    _check_suite_file(file_name, "cfg", token_checker)


@pytest.mark.slow
@pytest.mark.skipif(SUITE is None, reason="JSON-Schema-Test-Suite data not found (set AUTOMASK_BENCH_DIR)")
@pytest.mark.parametrize("file_name", SUITE_FILES)
def test_suite_file_on_the_dfa_backend(file_name):
    _check_suite_file(file_name, "dfa", None)


@pytest.mark.skipif(SUITE is None, reason="JSON-Schema-Test-Suite data not found (set AUTOMASK_BENCH_DIR)")
def test_suite_coverage_matches_the_committed_table():
    """The committed docs/json-schema-suite.md lists at least this many supported cases."""
    table = (Path(__file__).resolve().parents[1] / "docs" / "json-schema-suite.md").read_text()
    assert table.count("| supported |") > 220


@pytest.mark.skipif(MASKBENCH is None, reason="maskbench-dev.jsonl.gz not found (set AUTOMASK_BENCH_DIR)")
@pytest.mark.parametrize("row", MASKBENCH_SAMPLE, ids=lambda row: str(row.get("id", ""))[:40])
def test_maskbench_sample_accepts_no_invalid_instance(row):
    """No invalid instance accepted; a refusal is a typed, documented outcome, never a crash.
    (Unknown formats are annotations: their warning is expected here.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownFormatWarning)
        outcome, _, accepted_invalid, wrong = check_schema(row)
    assert accepted_invalid == 0, wrong
    assert not outcome.startswith("other"), outcome


def test_token_level_with_llama3(vocab_llama3, tok_llama3_or_skip, token_checker):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 12},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    grammar = compile_json_schema(schema, vocab_llama3)
    tokenizer = tok_llama3_or_skip
    for instance, valid in (({"name": "Zoë", "age": 42}, True), ({"name": "Bob", "age": 151}, False)):
        ids = tokenizer.encode(json.dumps(instance, ensure_ascii=False), add_special_tokens=False)
        matcher = grammar.matcher()
        consumed = matcher.consume_tokens(ids)
        if valid:
            assert consumed == len(ids)
            assert matcher.is_accepting()
            assert all(matcher.accepts_token(eos) for eos in vocab_llama3.eos_ids)
        else:
            assert consumed < len(ids) or not matcher.is_accepting()


@pytest.fixture
def tok_llama3_or_skip(tokenizers):
    return tokenizers("llama3")


def test_compile_json_schema_accepts_text_and_pydantic(vocab_llama3, token_checker):
    text_grammar = compile_json_schema('{"type": "boolean"}', vocab_llama3, whitespace="compact")
    assert text_grammar.dfa.matches(b"true") and not text_grammar.dfa.matches(b"1")
    pydantic = pytest.importorskip("pydantic", reason="pydantic is optional: only model classes need it")

    class Point(pydantic.BaseModel):
        x: int
        y: int

    grammar = compile_json_schema(Point, vocab_llama3)
    assert token_checker.accepts(grammar, '{"x": 1, "y": -2}')
    assert not token_checker.accepts(grammar, '{"x": 1}')
