"""The MaskBench child process: one engine, many schemas, one JSON line per schema.

Started by `benchmarks.maskbench` through `benchmarks.isolation.PersistentWorker` as
``python -m benchmarks.maskbench --serve SPEC``.  Start-up (untimed): load the Hugging Face
tokenizer if the engine needs it, `Engine.prepare`, then one warm-up compile and walk of a
small schema so that imports and JIT caches are not charged to the first real schema.  Then it
prints ``{"status": "ready", ...}`` and answers requests, one per line on stdin:

    request: {"id": str, "schema": JSON text, "tests": [{"valid": bool, "ids": [int, ...]}, ...]}
    reply:   {"status": "ok", "compile_us": float, "first_mask_us": float,
              "tests": [{"valid", "accepted", "refused_at", "tokens", "consume_disagreed"}],
              "mask_us": [float, ...], "consume_us": [float, ...]}
          or {"status": "compile error" | "walk error", "error_kind": str, "error": str}

Measurement of one schema: compile (timed), then the first mask of a fresh matcher (timed
apart: compile + first mask is MaskBench's "time to first mask"), then every test instance
walked token by token with `benchmarks.walk.walk` (mask timed at every step, EOS mask last),
garbage collector paused.  Only the child's protocol lines go to the real stdout: file
descriptor 1 is pointed at stderr so engines' own prints cannot corrupt the protocol.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import IO, Any

from benchmarks.engines import Engine, EngineUnavailable, TokenizerSource, UnsupportedWorkload, create_engine
from benchmarks.walk import walk
from benchmarks.workloads.base import Workload, WorkloadKind

WARMUP_SCHEMA = json.dumps(
    {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}
)
WARMUP_TEXT = json.dumps({"name": "Ada", "age": 36}, ensure_ascii=False)

_MAX_ERROR_CHARS = 500


def _schema_workload(schema_id: str, schema_text: str) -> Workload:
    return Workload(
        name=schema_id, kind=WorkloadKind.JSON_SCHEMA, source=schema_text, valid_text="", invalid_text=""
    )


def _error(status: str, kind: str, exc: BaseException) -> dict[str, Any]:
    return {"status": status, "error_kind": kind, "error": f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]}


def measure_schema(engine: Engine, request: dict[str, Any], eos_id: int) -> dict[str, Any]:
    """Compile one schema and walk its test instances; the reply described in the module doc."""
    workload = _schema_workload(request["id"], request["schema"])
    gc.collect()
    clock = time.perf_counter_ns
    started = clock()
    try:
        handle = engine.compile(workload)
    except UnsupportedWorkload as exc:
        return _error("compile error", "refused", exc)
    except Exception as exc:  # each engine's own error types: report the kind, never crash the run
        return _error("compile error", type(exc).__name__, exc)
    compile_ns = clock() - started

    tests: list[dict[str, Any]] = []
    mask_ns: list[int] = []
    consume_ns: list[int] = []
    gc.disable()
    try:
        matcher = engine.new_matcher(handle)
        bitmask = engine.allocate_bitmask()
        started = clock()
        engine.fill_mask(matcher, bitmask)
        first_mask_ns = clock() - started
        for test in request["tests"]:
            result = walk(engine, handle, test["ids"], eos_id)
            mask_ns.extend(result.mask_ns)
            consume_ns.extend(result.consume_ns)
            tests.append(
                {
                    "valid": bool(test["valid"]),
                    "accepted": result.accepted,
                    "refused_at": result.refused_at,
                    "tokens": result.num_tokens,
                    "consume_disagreed": result.consume_disagreed,
                }
            )
    except Exception as exc:  # a mask or commit that raises: the engine failed this schema
        return _error("walk error", type(exc).__name__, exc)
    finally:
        gc.enable()
    return {
        "status": "ok",
        "compile_us": compile_ns / 1000.0,
        "first_mask_us": first_mask_ns / 1000.0,
        "tests": tests,
        "mask_us": [round(ns / 1000.0, 3) for ns in mask_ns],
        "consume_us": [round(ns / 1000.0, 3) for ns in consume_ns],
    }


def _start_engine(spec: dict[str, Any]) -> tuple[Engine, dict[str, Any]]:
    """Create, configure and prepare the engine, then warm it up; returns it and the ready message."""
    engine = create_engine(spec["engine"])
    engine.configure(spec.get("options", {}))
    source = TokenizerSource(**spec["tokenizer"])
    hf_tokenizer = source.load_hf() if engine.needs_hf_tokenizer else None
    started = time.perf_counter()
    engine.prepare(source, hf_tokenizer)
    prepare_s = time.perf_counter() - started
    warmup = measure_schema(
        engine,
        {"id": "warm-up", "schema": WARMUP_SCHEMA, "tests": spec.get("warmup_tests", [])},
        spec["eos_id"],
    )
    ready = {
        "status": "ready",
        "engine": spec["engine"],
        "version": engine.version(),
        "notes": engine.environment_notes(),
        "options": engine.json_schema_options(),
        "prepare_s": prepare_s,
        "vocab_size": engine.vocab_size,
        "warmup": {k: v for k, v in warmup.items() if k not in ("mask_us", "consume_us")},
    }
    return engine, ready


def serve(spec: dict[str, Any], requests: IO[str] | None = None) -> int:
    """Answer requests from stdin until it closes (the protocol in the module doc)."""
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # engines' prints (and numba's) now land in the log, not in the protocol
    sys.stdout = sys.stderr
    requests = sys.stdin if requests is None else requests

    def send(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
        engine, ready = _start_engine(spec)
    except EngineUnavailable as exc:
        send({"status": "not installed", "error": str(exc)})
        return 1
    except Exception as exc:
        send({"status": "start failed", "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return 1
    send(ready)
    for line in requests:
        if line.strip():
            request = json.loads(line)
            send(measure_schema(engine, request, spec["eos_id"]) | {"id": request["id"]})
    return 0
