"""Run the JSON-Schema-Test-Suite (draft 2020-12) through the JSON-Schema front-end.

For every case the schema is compiled (``--backend cfg``, the default: grammar IR, each
instance checked by the reference Earley recognizer, or token by token through the
`Matcher` with the Llama-3 vocabulary with ``--tokens``; ``--backend dfa``: one byte DFA);
each test instance is serialised with ``json.dumps(ensure_ascii=False)`` and must be
accepted iff valid (token level: every token of the canonical tokenization allowed and
consumed, EOS allowed exactly at the end).  Outcomes per case:
``supported`` (all tests right), ``refused`` (UnsupportedFeature / limit at compile time),
``failing`` (an instance judged wrongly).  Wrong judgements are split into *invalidation*
errors (invalid accepted: bugs) and *validation* errors (valid refused; expected for key
orders other than the schema's, exponent notation under numeric bounds, nesting deeper than
``max_nesting``).

    python tests/json_schema_suite_report.py [--backend cfg|dfa] [--tokens] [--markdown docs/json-schema-suite.md]

The suite is read from ``$AUTOMASK_BENCH_DIR/json-schema-test-suite`` or
``../shared/bench/json-schema-test-suite`` relative to the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from automask.compiler.json_schema.compile import SchemaError, schema_to_regex_ast
from automask.compiler.regex import ast_to_dfa
from automask.errors import CompileLimitExceeded, EmptyLanguage, UnsupportedFeature


def suite_dir() -> Path | None:
    base = os.environ.get("AUTOMASK_BENCH_DIR")
    candidates = [Path(base)] if base else []
    candidates.append(Path(__file__).resolve().parent.parent.parent / "shared" / "bench")
    for candidate in candidates:
        path = candidate / "json-schema-test-suite" / "draft2020-12"
        if path.is_dir():
            return path
    return None


@dataclass
class CaseResult:
    file: str
    description: str
    outcome: str
    reason: str = ""
    validation_errors: list[str] = field(default_factory=list)
    invalidation_errors: list[str] = field(default_factory=list)


class TokenChecker:
    """Token-level judge: compile with `compile_json_schema(backend="cfg")`, feed the
    canonical tokenization of each instance through the matcher."""

    def __init__(self, vocab, tokenizer):
        from automask.compiler.token_index.trie import token_trie

        self.vocab, self.tokenizer = vocab, tokenizer
        token_trie(vocab)  # built once up front, shared by every compile

    def compile(self, schema):
        from automask.json_schema_api import compile_json_schema

        return compile_json_schema(schema, self.vocab, backend="cfg")

    def accepts(self, compiled, text: str) -> bool:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        matcher = compiled.matcher()
        for token in ids:
            if matcher.is_accepting() and not self.eos_allowed(matcher):
                raise AssertionError(f"EOS not allowed at an accepting state of {text!r}")
            if not matcher.accepts_token(token):
                return False
            if not matcher.consume_token(token):
                raise AssertionError(f"token {token} allowed but not consumed in {text!r}")
        accepting = matcher.is_accepting()
        if accepting != self.eos_allowed(matcher):
            raise AssertionError(f"EOS allowed != accepting at the end of {text!r}")
        return accepting

    def eos_allowed(self, matcher) -> bool:
        return all(matcher.accepts_token(eos) for eos in self.vocab.eos_ids)


def _cfg_judge(schema, tokens: TokenChecker | None):
    from automask.compiler.grammar.earley_reference import accepts
    from automask.compiler.json_schema.to_grammar import schema_to_grammar

    grammar, _ = schema_to_grammar(schema)
    if not grammar.rules:
        raise EmptyLanguage("the JSON Schema accepts no value (unsatisfiable)")
    if tokens is None:
        return lambda text: accepts(grammar, text)
    compiled = tokens.compile(schema)
    return lambda text: tokens.accepts(compiled, text)


def run_case(file: str, case: dict, backend: str = "cfg", tokens: TokenChecker | None = None) -> CaseResult:
    """Judge every test of ``case``; ``backend`` ``"cfg"`` (grammar IR, token level when
    ``tokens`` is given) or ``"dfa"`` (one byte DFA)."""
    if backend == "cfg":
        return _run_case(file, case, lambda schema: _cfg_judge(schema, tokens))

    def dfa_judge(schema):
        dfa = ast_to_dfa(schema_to_regex_ast(schema))
        return lambda text: dfa.matches(text.encode())

    return _run_case(file, case, dfa_judge)


def _run_case(file: str, case: dict, compile_judge) -> CaseResult:
    result = CaseResult(file, case["description"], "supported")
    try:
        judge = compile_judge(case["schema"])
    except (UnsupportedFeature, CompileLimitExceeded) as error:
        result.outcome, result.reason = "refused", str(error).splitlines()[0][:160]
        return result
    except (EmptyLanguage, SchemaError) as error:
        judge = None
        result.reason = f"{type(error).__name__}: {str(error)[:120]}"
    for test in case["tests"]:
        accepted = judge is not None and judge(json.dumps(test["data"], ensure_ascii=False))
        if accepted != test["valid"]:
            (result.validation_errors if test["valid"] else result.invalidation_errors).append(
                test["description"]
            )
    if result.validation_errors or result.invalidation_errors:
        result.outcome = "failing"
    return result


def run_suite(directory: Path, backend: str = "cfg", tokens: TokenChecker | None = None) -> list[CaseResult]:
    results = []
    for path in sorted(directory.glob("*.json")) + sorted((directory / "optional" / "format").glob("*.json")):
        name = str(path.relative_to(directory))
        for case in json.loads(path.read_text()):
            results.append(run_case(name, case, backend, tokens))
    return results


def markdown(results: list[CaseResult], how: str) -> str:
    lines = [
        "# JSON-Schema-Test-Suite (draft 2020-12) on the JSON-Schema front-end",
        "",
        f"Generated by `python tests/json_schema_suite_report.py {how}--markdown docs/json-schema-suite.md`.",
        "A case is *supported* when every instance is judged right, *refused* when compilation",
        "raises `UnsupportedFeature` (or a limit), *failing* otherwise.  Validation errors (valid",
        "refused) come from the fixed property order and numbers in exponent notation under",
        "bounds other than the small-float form `json.dumps` writes (and `max_nesting` on the",
        "DFA back-end); invalidation errors (invalid accepted)",
        "are bugs.",
        "",
    ]
    totals = {k: sum(1 for r in results if r.outcome == k) for k in ("supported", "refused", "failing")}
    invalid = sum(len(r.invalidation_errors) for r in results)
    valid = sum(len(r.validation_errors) for r in results)
    lines.append(
        f"**Totals**: {len(results)} cases: {totals['supported']} supported, {totals['refused']} refused, "
        f"{totals['failing']} failing ({valid} validation errors, {invalid} invalidation errors)."
    )
    lines += ["", "| file | case | outcome | detail |", "|---|---|---|---|"]
    for r in results:
        detail = r.reason
        if r.outcome == "failing":
            detail = "; ".join(
                [f"valid refused: {d}" for d in r.validation_errors]
                + [f"INVALID ACCEPTED: {d}" for d in r.invalidation_errors]
            )
        cell = detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.file} | {r.description.replace('|', '/')} | {r.outcome} | {cell} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="write the table to this file")
    parser.add_argument("--backend", choices=("cfg", "dfa"), default="cfg")
    parser.add_argument("--tokens", action="store_true", help="cfg: judge token by token (Llama-3)")
    args = parser.parse_args()
    directory = suite_dir()
    if directory is None:
        print("JSON-Schema-Test-Suite not found (set AUTOMASK_BENCH_DIR)", file=sys.stderr)
        return 2
    tokens = None
    if args.tokens:
        from automask.compiler.vocabulary.builtin import load_tokenizer, load_vocabulary

        tokens = TokenChecker(load_vocabulary("llama3"), load_tokenizer("llama3"))
    results = run_suite(directory, args.backend, tokens)
    how = f"--backend {args.backend} " + ("--tokens " if args.tokens else "")
    text = markdown(results, how)
    if args.markdown:
        args.markdown.write_text(text)
    print(text.split("\n\n")[2] if len(text.split("\n\n")) > 2 else text[:400])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
