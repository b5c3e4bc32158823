"""MaskBench, side by side: automask and its peers on the same JSON Schemas and token ids.

    python -m benchmarks.maskbench --count 200 [--engines automask,llguidance,xgrammar,outlines-core]
        [--every K] [--offset 0] [--timeout 60] [--automask-option backend=cfg]
        [--option xgrammar:strict_mode=true]

The method is MaskBench's (see ``bench/README.md`` of the shared data): for each schema of a
deterministic sample of the dev set and each engine, compile the schema, then walk every test
instance -- ``json.dumps(data, indent=None, ensure_ascii=False)`` tokenized canonically with
``add_special_tokens=False`` -- token by token: full-vocabulary mask (timed), check the token's
bit, commit it; after the last token the EOS bit must be set too.  A valid instance refused is
a validation error, an invalid one accepted through EOS an invalidation error; a schema passes
when it compiled and every instance was judged right.

Each engine runs in its own long-lived child process (`benchmarks.maskbench_worker`) that
loads the tokenizer once; every schema is one request with its own time and memory limit.  A
schema that runs past them is killed, counted as a compile error of kind "timeout" (or "out of
memory"), and the engine's child is restarted for the next schema.  No schema is skipped.

Writes ``maskbench-<tokenizer>.md`` and ``.json`` under ``--output-dir`` (default
``benchmarks/results``).  Data: ``--data``, else ``$AUTOMASK_BENCH_DIR/maskbench-dev.jsonl.gz``,
else ``../shared/bench/maskbench-dev.jsonl.gz`` next to the repository.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.engines import TokenizerSource, engine_class
from benchmarks.isolation import REPO_ROOT, PersistentWorker
from benchmarks.maskbench_report import judge, ratios_vs_baseline, render_markdown, summarise, timings
from benchmarks.report import save_report
from benchmarks.run import MACHINE_NOTE, _git_commit, _load_average

DATA_FILE = "maskbench-dev.jsonl.gz"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "benchmarks" / "results"
DEFAULT_ENGINES = ("automask", "llguidance", "xgrammar", "outlines-core")


def default_data_path() -> Path | None:
    """``$AUTOMASK_BENCH_DIR/maskbench-dev.jsonl.gz``, else the shared bench folder beside the repo."""
    candidates = []
    if base := os.environ.get("AUTOMASK_BENCH_DIR"):
        candidates.append(Path(base) / DATA_FILE)
    candidates.append(REPO_ROOT.parent / "shared" / "bench" / DATA_FILE)
    return next((c for c in candidates if c.is_file()), None)


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Every line of a MaskBench JSONL file (gzipped or not): ``{"id", "subset", "schema", "tests"}``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def select_rows(
    rows: Sequence[dict[str, Any]], *, count: int | None, every: int | None, offset: int = 0
) -> list[dict[str, Any]]:
    """A deterministic sample in file order: every ``every``-th row from ``offset``, at most ``count``.

    Without ``every`` the stride is ``len(rows) // count`` (an even spread over the file, whose
    subsets come in blocks); without either, every row.  Nothing is filtered on content.
    """
    if every is None:
        every = max(1, len(rows) // count) if count else 1
    if every < 1 or offset < 0:
        raise ValueError("--every must be >= 1 and --offset >= 0")
    picked = list(rows[offset::every])
    return picked[:count] if count else picked


def serialise_instance(data: Any) -> str:
    """MaskBench's serialisation: compact-ish JSON with ``", "`` and ``": "``, non-ASCII kept."""
    return json.dumps(data, indent=None, ensure_ascii=False)


def tokenize_tests(hf_tokenizer: Any, row: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """``([{"valid", "ids"}], untokenizable)`` for one schema's test instances.

    An instance whose text cannot be encoded (a lone surrogate in a string) is counted, not walked.
    """
    tests, untokenizable = [], 0
    for test in row.get("tests", []):
        text = serialise_instance(test["data"])
        try:
            text.encode("utf-8")
            ids = hf_tokenizer.encode(text, add_special_tokens=False)
        except (UnicodeEncodeError, ValueError, TypeError):
            untokenizable += 1
            continue
        tests.append({"valid": bool(test["valid"]), "ids": [int(i) for i in ids]})
    return tests, untokenizable


def parse_value(text: str) -> Any:
    """An option value: JSON when it parses (``3``, ``false``, ``"x"``), else the raw string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(
    engine_options: Sequence[str], automask_options: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``ENGINE:KEY=VALUE`` and automask's ``KEY=VALUE`` strings -> engine -> {key: value}."""
    options: dict[str, dict[str, Any]] = collections.defaultdict(dict)
    for item in [*engine_options, *(f"automask:{o}" for o in automask_options)]:
        engine, sep, assignment = item.partition(":")
        key, eq, value = assignment.partition("=")
        if not sep or not eq or not key:
            raise SystemExit(f"bad option {item!r}: expected ENGINE:KEY=VALUE (or KEY=VALUE for automask)")
        engine_class(engine)
        options[engine][key] = parse_value(value)
    return dict(options)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.maskbench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data", type=Path, default=None, help=f"MaskBench JSONL(.gz) (default: {DATA_FILE})"
    )
    parser.add_argument(
        "--count", type=int, default=None, help="at most N schemas (even spread over the file)"
    )
    parser.add_argument("--every", type=int, default=None, help="every K-th schema")
    parser.add_argument("--offset", type=int, default=0, help="first row of the sample")
    parser.add_argument("--ids", default=None, help="comma-separated schema ids instead of a sample")
    parser.add_argument("--engines", default=",".join(DEFAULT_ENGINES), help="comma-separated, column order")
    parser.add_argument("--tokenizer", default="llama3", help="automask built-in tokenizer name")
    parser.add_argument(
        "--tokenizer-path", default=None, help="a saved Hugging Face tokenizer folder instead"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per schema per engine")
    parser.add_argument("--start-timeout", type=float, default=600.0, help="seconds for an engine's start-up")
    parser.add_argument("--memory-mb", type=float, default=8192.0, help="resident-memory limit per engine")
    parser.add_argument("--option", action="append", default=[], help="ENGINE:KEY=VALUE JSON-Schema option")
    parser.add_argument("--automask-option", action="append", default=[], help="KEY=VALUE for automask")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--name", default=None, help="output file stem (default maskbench-<tokenizer>)")
    parser.add_argument("--no-save", action="store_true", help="print the report, write no files")
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _sample(args: argparse.Namespace, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    if args.ids:
        wanted = [i.strip() for i in args.ids.split(",") if i.strip()]
        by_id = {r["id"]: r for r in rows}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            raise SystemExit(f"unknown schema ids: {missing[:5]}")
        return [by_id[i] for i in wanted], f"{len(wanted)} schemas chosen by id"
    picked = select_rows(rows, count=args.count, every=args.every, offset=args.offset)
    stride = args.every or (max(1, len(rows) // args.count) if args.count else 1)
    return picked, (
        f"{len(picked)} of {len(rows):,} schemas: rows {args.offset}, {args.offset + stride}, … (stride {stride}), "
        f"in file order, "
        f"none filtered out"
    )


def run_maskbench(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every engine on every sampled schema; returns the JSON document."""
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for name in engines:
        engine_class(name)
    options = parse_options(args.option, args.automask_option)
    data_path = args.data or default_data_path()
    if data_path is None:
        raise SystemExit(f"{DATA_FILE} not found: pass --data or set AUTOMASK_BENCH_DIR")
    rows, sample_note = _sample(args, load_rows(data_path))

    source = TokenizerSource(args.tokenizer, args.tokenizer_path)
    hf_tokenizer = source.load_hf()
    eos_id = int(hf_tokenizer.eos_token_id)
    jobs, untokenizable = [], 0
    for row in rows:
        tests, bad = tokenize_tests(hf_tokenizer, row)
        untokenizable += bad
        jobs.append(
            {"id": row["id"], "schema": json.dumps(row["schema"], ensure_ascii=False), "tests": tests}
        )
    instances = [t for job in jobs for t in job["tests"]]
    warmup_ids = hf_tokenizer.encode('{"name": "Ada", "age": 36}', add_special_tokens=False)
    load_before = _load_average()

    records: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    masks: dict[str, dict[str, list[float]]] = {e: {} for e in engines}  # engine -> schema id -> µs
    ready: dict[str, dict[str, Any]] = {}
    workers: dict[str, PersistentWorker] = {}
    started_run = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="automask-maskbench-") as tmp:
        for engine in engines:
            if engine_class(engine).missing_requirements():
                continue
            spec = {
                "engine": engine,
                "tokenizer": {"name": source.name, "path": source.path},
                "eos_id": eos_id,
                "options": options.get(engine, {}),
                "warmup_tests": [{"valid": True, "ids": warmup_ids}],
            }
            spec_path = Path(tmp) / f"{engine}.json"
            spec_path.write_text(json.dumps(spec))
            command = [sys.executable, "-m", "benchmarks.maskbench", "--serve", str(spec_path)]
            workers[engine] = PersistentWorker(
                command, memory_limit_mb=args.memory_mb, log_path=Path(tmp) / f"{engine}.log"
            )
        try:
            for index, job in enumerate(jobs):
                line = []
                for engine in engines:
                    worker = workers.get(engine)
                    if worker is None:
                        reply: dict[str, Any] = {"status": "not installed"}
                    else:
                        reply = worker.request(
                            job, timeout_s=args.timeout, start_timeout_s=args.start_timeout
                        )
                        if worker.ready is not None:
                            ready.setdefault(engine, worker.ready)
                    masks[engine][job["id"]] = reply.pop("mask_us", [])
                    reply.pop("consume_us", None)
                    records[engine].append(reply | {"id": job["id"]})
                    verdict = judge(reply)
                    line.append(
                        f"{engine} {'pass' if verdict['passing'] else verdict['compile_error'] or 'FAIL'}"
                    )
                elapsed = time.monotonic() - started_run
                print(
                    f"[{index + 1}/{len(jobs)} {elapsed:.0f}s] {job['id']}: " + " | ".join(line),
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            for worker in workers.values():
                worker.close()
    return _document(
        args,
        engines,
        rows,
        jobs,
        records,
        masks,
        ready,
        workers,
        {
            "sample_note": sample_note,
            "untokenizable": untokenizable,
            "instances": instances,
            "eos_id": eos_id,
            "vocab": len(hf_tokenizer),
            "data": data_path.name,
            "load_before": load_before,
            "run_s": time.monotonic() - started_run,
            "options": options,
        },
    )


def _document(
    args: argparse.Namespace,
    engines: list[str],
    rows: list[dict[str, Any]],
    jobs: list[dict[str, Any]],
    records: dict[str, list[dict[str, Any]]],
    masks: dict[str, dict[str, list[float]]],
    ready: dict[str, dict[str, Any]],
    workers: dict[str, PersistentWorker],
    facts: dict[str, Any],
) -> dict[str, Any]:
    summaries: dict[str, dict[str, Any]] = {}
    for engine in engines:
        if engine not in workers:
            summaries[engine] = {"engine": engine, "status": "not installed"}
            continue
        summaries[engine] = (
            {"engine": engine}
            | summarise(records[engine], [us for samples in masks[engine].values() for us in samples])
            | {
                "version": ready.get(engine, {}).get("version", "?"),
                "options": ready.get(engine, {}).get("options", facts["options"].get(engine, {})),
                "restarts": workers[engine].restarts,
            }
        )
    verdicts = {
        job["id"]: {e: judge(records[e][i]) for e in engines if e in workers} for i, job in enumerate(jobs)
    }
    # Timings on the schemas every engine passes: the same walks for every engine.
    common = [job["id"] for job in jobs if all(v["passing"] for v in verdicts[job["id"]].values())]
    for engine in workers:
        by_id = {r["id"]: r for r in records[engine]}
        summaries[engine]["common"] = {"schemas": len(common)} | timings(
            [by_id[i] for i in common], [us for i in common for us in masks[engine].get(i, [])]
        )
    errors = {
        job["id"]: {e: records[e][i]["error"] for e in engines if e in workers and records[e][i].get("error")}
        for i, job in enumerate(jobs)
    }
    by_subset: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = by_subset.setdefault(row["subset"], collections.Counter())
        counts["schemas"] += 1
        for e in engines:
            if e in workers:
                counts[e] += int(verdicts[row["id"]][e]["passing"])
    instances = facts["instances"]
    valid = sum(t["valid"] for t in instances)
    versions = ", ".join(
        f"{e} {summaries[e].get('version', '-')} (options {summaries[e].get('options', {})})" for e in engines
    )
    meta = {
        "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "sample": f"{facts['sample_note']} ({facts['data']}); run with `--count {args.count}`"
        + (f" `--every {args.every}`" if args.every else "")
        + (f" `--offset {args.offset}`" if args.offset else ""),
        "instances": f"{len(instances)} walked ({valid} valid, {len(instances) - valid} invalid), "
        f"{sum(len(t['ids']) for t in instances):,} tokens; {facts['untokenizable']} not encodable, not walked",
        "tokenizer": f"{args.tokenizer} ({facts['vocab']} ids incl. added tokens, EOS {facts['eos_id']}), "
        "instances serialised with json.dumps(data, ensure_ascii=False), tokenized with add_special_tokens=False",
        "engines": versions,
        "method": "one long-lived process per engine (tokenizer loaded once, one untimed warm-up schema); per schema: "
        "compile (timed), first mask of a fresh matcher (timed; compile + first mask = TTFM), then every instance "
        "walked with a fresh matcher: full-vocabulary mask (timed) and bit check at every token, EOS bit after the "
        "last; garbage collector paused during walks; compile times over compiled schemas only",
        "limits": f"{args.timeout:g} s and {args.memory_mb:.0f} MB resident per schema per engine; past them the "
        "engine's process is killed and restarted, and the schema counts as a compile error (timeout / out of memory)",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, Python {platform.python_version()}",
        "load average before / after": f"{facts['load_before']} / {_load_average()}",
        "run time": f"{facts['run_s'] / 60:.1f} min",
        "automask commit": _git_commit(),
        "caveat": MACHINE_NOTE,
    }
    return {
        "title": f"MaskBench side by side, {args.tokenizer} tokenizer, {len(jobs)} schemas",
        "meta": meta,
        "engines": engines,
        "sample": {
            "schemas": len(jobs),
            "ids": [job["id"] for job in jobs],
            "count": args.count,
            "every": args.every,
            "offset": args.offset,
            "instances": len(instances),
            "valid_instances": valid,
            "untokenizable_instances": facts["untokenizable"],
        },
        "summaries": summaries,
        "ratios": ratios_vs_baseline(summaries),
        "by_subset": {k: dict(v) for k, v in by_subset.items()},
        "verdicts": verdicts,
        "errors": errors,
        "engine_start": ready,
        "records": {
            e: [
                {k: v for k, v in r.items() if k != "tests"}
                | {
                    "tests": [
                        [t["valid"], t["accepted"], t["refused_at"], t["tokens"]] for t in r.get("tests", [])
                    ]
                }
                for r in records[e]
            ]
            for e in engines
            if e in workers
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.serve is not None:
        from benchmarks.maskbench_worker import serve

        return serve(json.loads(args.serve.read_text()))
    document = run_maskbench(args)
    markdown = render_markdown(document)
    print(markdown)
    if not args.no_save:
        save_report(args.output_dir, args.name or f"maskbench-{args.tokenizer}", markdown, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
