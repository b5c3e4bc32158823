"""Side-by-side benchmark runner: automask and its peers on the same workloads and token ids.

    python -m benchmarks.run --suite regex --tokenizer llama3 \\
        [--engines automask,xgrammar,llguidance,outlines-core] [--reps 3] [--runs 1] [--timeout 300]

The parent loads the tokenizer once (``automask.load_tokenizer``, or ``--tokenizer-path`` for a
saved Hugging Face folder), tokenizes every example canonically (``add_special_tokens=False``),
then runs each engine × workload × run in a fresh process (`benchmarks.isolation`).  It prints
the markdown table and writes ``<suite>-<tokenizer>.md`` and ``.json`` (all raw numbers) under
``--output-dir`` (default ``benchmarks/results``).

``--worker SPEC --result OUT`` is the child-process entry point; it is not meant to be typed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.engines import ENGINES, TokenizerSource, engine_class
from benchmarks.isolation import REPO_ROOT, run_isolated
from benchmarks.report import aggregate, render_markdown, save_report
from benchmarks.workloads import SUITES, Workload, suite_workloads

DEFAULT_OUTPUT_DIR = REPO_ROOT / "benchmarks" / "results"

MACHINE_NOTE = (
    "Measured on a noisy shared VM with 2 cores while other engineers ran test suites on it; "
    "single numbers can be off by 2x, compare orders of magnitude and ratios rather than digits."
)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="regex", choices=sorted(SUITES))
    parser.add_argument("--tokenizer", default="llama3", help="automask built-in tokenizer name")
    parser.add_argument(
        "--tokenizer-path", default=None, help="a saved Hugging Face tokenizer folder instead"
    )
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated, in column order")
    parser.add_argument("--workloads", default=None, help="comma-separated workload names (default: all)")
    parser.add_argument("--reps", type=int, default=10, help="timed walks of the valid example per process")
    parser.add_argument("--runs", type=int, default=1, help="fresh processes per engine × workload (median)")
    parser.add_argument("--timeout", type=float, default=300.0, help="wall-time limit per process, seconds")
    parser.add_argument("--memory-mb", type=float, default=8192.0, help="resident-memory limit per process")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--no-save", action="store_true", help="print the table, write no files")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _worker_main(spec_path: Path, result_path: Path) -> int:
    from benchmarks.worker import run_worker_safely

    result = run_worker_safely(json.loads(spec_path.read_text()))
    result_path.write_text(json.dumps(result))
    return 0


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip() or "unknown"
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return commit
    return f"{commit} + uncommitted changes" if status.stdout.strip() else commit


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def select_workloads(suite: str, names: str | None) -> list[Workload]:
    workloads = suite_workloads(suite)
    if names is None:
        return workloads
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {w.name: w for w in workloads}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"unknown workloads {unknown}; {suite} has: {', '.join(known)}")
    return [known[n] for n in wanted]


def special_token_ids(hf_tokenizer: Any) -> list[int]:
    """Control-token ids of a Hugging Face tokenizer (its special tokens and added special tokens)."""
    ids = set(hf_tokenizer.all_special_ids)
    ids.update(i for i, token in hf_tokenizer.added_tokens_decoder.items() if token.special)
    return sorted(ids)


def tokenize_examples(hf_tokenizer: Any, workloads: Sequence[Workload]) -> dict[str, dict[str, Any]]:
    """Canonical token ids of every example, shared by every engine."""
    examples = {}
    for w in workloads:
        valid = hf_tokenizer.encode(w.valid_text, add_special_tokens=False)
        invalid = hf_tokenizer.encode(w.invalid_text, add_special_tokens=False)
        examples[w.name] = {
            "valid_ids": list(valid),
            "invalid_ids": list(invalid),
            "valid_round_trips": hf_tokenizer.decode(valid) == w.valid_text,
        }
    return examples


def run_benchmark(args: argparse.Namespace) -> tuple[dict[str, Any], list[Workload]]:
    """Measure every engine × workload × run; returns the JSON document and the workloads measured."""
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for name in engines:
        engine_class(name)  # fails early on a typo
    workloads = select_workloads(args.suite, args.workloads)
    source = TokenizerSource(args.tokenizer, args.tokenizer_path)

    load_started = time.perf_counter()
    hf_tokenizer = source.load_hf()
    tokenizer_load_s = time.perf_counter() - load_started
    eos_id = int(hf_tokenizer.eos_token_id)
    special_ids = special_token_ids(hf_tokenizer)
    examples = tokenize_examples(hf_tokenizer, workloads)
    load_before = _load_average()

    raw: list[dict[str, Any]] = []
    for engine in engines:
        missing = engine_class(engine).missing_requirements()
        for w in workloads:
            for run in range(args.runs):
                if missing:
                    result = {
                        "engine": engine,
                        "workload": w.name,
                        "status": "not installed",
                        "error": f"missing {missing}",
                    }
                else:
                    spec = {
                        "suite": args.suite,
                        "workload": w.name,
                        "engine": engine,
                        "tokenizer": {"name": source.name, "path": source.path},
                        "eos_id": eos_id,
                        "special_ids": special_ids,
                        "reps": args.reps,
                        "valid_ids": examples[w.name]["valid_ids"],
                        "invalid_ids": examples[w.name]["invalid_ids"],
                    }
                    result = run_isolated(spec, timeout_s=args.timeout, memory_limit_mb=args.memory_mb)
                raw.append(result | {"run": run})
                status = result["status"]
                print(f"[{engine} / {w.name} / run {run}] {status}", file=sys.stderr, flush=True)

    summaries = {
        w.name: {
            e: aggregate([r for r in raw if r["engine"] == e and r["workload"] == w.name]) for e in engines
        }
        for w in workloads
    }
    meta = {
        "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "tokenizer": f"{source.name} ({len(hf_tokenizer)} ids incl. added tokens, EOS {eos_id}), "
        f"examples tokenized canonically with add_special_tokens=False",
        "tokenizer load in the parent (s)": f"{tokenizer_load_s:.1f}",
        "method": f"one fresh process per engine × workload × run ({args.runs} run(s), median); "
        f"compile = first compile in the process; {args.reps} timed walks of the valid example after one "
        f"untimed warm-up walk, garbage collector paused; limits {args.timeout:.0f} s, {args.memory_mb:.0f} MB",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, Python {platform.python_version()}",
        "load average before / after": f"{load_before} / {_load_average()}",
        "automask commit": _git_commit(),
        "caveat": MACHINE_NOTE,
    }
    document = {
        "suite": args.suite,
        "meta": meta,
        "engines": engines,
        "workloads": [
            {
                "name": w.name,
                "label": w.label,
                "kind": w.kind.value,
                "source": w.source,
                "valid_text": w.valid_text,
                "invalid_text": w.invalid_text,
                "description": w.description,
                **examples[w.name],
            }
            for w in workloads
        ],
        "summaries": summaries,
        "raw": raw,
    }
    return document, workloads


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.worker is not None:
        if args.result is None:
            raise SystemExit("--worker needs --result")
        return _worker_main(args.worker, args.result)

    document, workloads = run_benchmark(args)
    markdown = render_markdown(
        title=f"{args.suite} suite, {args.tokenizer} tokenizer",
        meta=document["meta"],
        workloads=workloads,
        engines=document["engines"],
        summaries=document["summaries"],
    )
    print(markdown)
    if not args.no_save:
        save_report(args.output_dir, f"{args.suite}-{args.tokenizer}", markdown, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
