"""MaskBench dev sample through the regular JSON-Schema front-end, at the DFA level.

For a deterministic sample of schemas (every k-th line), compile schema -> regex AST ->
byte DFA; serialise each test instance like MaskBench (``json.dumps(data,
ensure_ascii=False)``) and check the DFA accepts it iff it is valid.  Prints: schemas
passing (compiled, every test right), compile errors by kind, validation errors (valid
refused) and invalidation errors (invalid accepted -- must be 0).

    python benchmarks/json_schema_maskbench_sample.py [--count 300]

Data: ``$AUTOMASK_BENCH_DIR/maskbench-dev.jsonl.gz`` or ``../shared/bench`` relative to
the repository.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import sys
import time
from pathlib import Path

from automask.compiler.json_schema.compile import SchemaError, schema_to_regex_ast
from automask.compiler.limits import CompileLimits
from automask.compiler.regex import ast_to_dfa
from automask.errors import AutomaskError, CompileLimitExceeded, EmptyLanguage, UnsupportedFeature


def maskbench_path() -> Path | None:
    base = os.environ.get("AUTOMASK_BENCH_DIR")
    candidates = [Path(base)] if base else []
    candidates.append(Path(__file__).resolve().parent.parent.parent / "shared" / "bench")
    for candidate in candidates:
        if (candidate / "maskbench-dev.jsonl.gz").is_file():
            return candidate / "maskbench-dev.jsonl.gz"
    return None


def sample(path: Path, count: int) -> list[dict]:
    with gzip.open(path, "rt") as handle:
        rows = [json.loads(line) for line in handle]
    step = max(1, len(rows) // count)
    return rows[::step][:count]


SAMPLE_LIMITS = CompileLimits(max_nfa_states=300_000, max_dfa_states=30_000)
"""Tighter than the defaults so one huge schema cannot stall the sample."""


def check_schema(row: dict, limits: CompileLimits = SAMPLE_LIMITS) -> tuple[str, int, int, list[str]]:
    """(outcome, validation errors, invalidation errors, wrongly accepted instances)."""
    try:
        dfa = ast_to_dfa(schema_to_regex_ast(row["schema"], limits=limits), limits)
    except UnsupportedFeature:
        return "unsupported", 0, 0, []
    except CompileLimitExceeded:
        return "limit", 0, 0, []
    except (SchemaError, EmptyLanguage):
        return "schema error", 0, 0, []
    except (AutomaskError, RecursionError) as error:
        return f"other: {type(error).__name__}", 0, 0, []
    valid_refused = invalid_accepted = 0
    wrong: list[str] = []
    for test in row["tests"]:
        text = json.dumps(test["data"], ensure_ascii=False)
        accepted = dfa.matches(text.encode())
        if test["valid"] and not accepted:
            valid_refused += 1
        elif not test["valid"] and accepted:
            invalid_accepted += 1
            wrong.append(text[:200])
    outcome = "pass" if not (valid_refused or invalid_accepted) else "fail"
    return outcome, valid_refused, invalid_accepted, wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--verbose", action="store_true", help="one line per schema")
    args = parser.parse_args()
    path = maskbench_path()
    if path is None:
        print("maskbench-dev.jsonl.gz not found (set AUTOMASK_BENCH_DIR)", file=sys.stderr)
        return 2
    outcomes: collections.Counter[str] = collections.Counter()
    validation = invalidation = 0
    for row in sample(path, args.count):
        started = time.perf_counter()
        outcome, refused, accepted, wrong = check_schema(row)
        if args.verbose:
            print(f"{row['id']}: {outcome} {time.perf_counter() - started:.2f}s", flush=True)
        outcomes[outcome] += 1
        validation += refused
        invalidation += accepted
        for text in wrong:
            print(f"INVALID ACCEPTED {row['id']}: {text}")
    compiled = outcomes["pass"] + outcomes["fail"]
    print(f"schemas: {sum(outcomes.values())}, compiled: {compiled}, passing: {outcomes['pass']}")
    print(f"compile errors: {dict((k, v) for k, v in outcomes.items() if k not in ('pass', 'fail'))}")
    print(
        f"validation errors (valid refused): {validation}; invalidation errors (invalid accepted): {invalidation}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
