"""One engine × one workload, measured inside its own process (see `benchmarks.isolation`).

Order inside the process: load the HF tokenizer (if the engine needs it), `prepare` (timed:
tokenizer preparation), `compile` (timed: the first compile in a fresh process, i.e. cold; then once more, timed as
the warm compile, its result discarded),
one untimed warm-up walk of the valid example (which also records the first mask's time and
the allowed-token count at every step), ``reps`` timed walks of the valid example with the
garbage collector paused, then one walk of the invalid example.

The result is a plain JSON-able dict; ``status`` is ``"ok"`` or says why there are no numbers.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
import traceback
from typing import Any

import numpy as np

from benchmarks.engines import EngineUnavailable, TokenizerSource, UnsupportedWorkload, create_engine
from benchmarks.walk import walk
from benchmarks.workloads import suite_workloads


def percentiles_us(samples_ns: list[int]) -> dict[str, float | int]:
    """p50 / p99 / max / mean in microseconds, plus the sample count."""
    if not samples_ns:
        return {"n": 0}
    us = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    return {
        "n": int(us.size),
        "p50": float(np.percentile(us, 50)),
        "p99": float(np.percentile(us, 99)),
        "max": float(us.max()),
        "mean": float(us.mean()),
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure ``spec["engine"]`` on workload ``spec["workload"]`` of ``spec["suite"]``."""
    result: dict[str, Any] = {"engine": spec["engine"], "workload": spec["workload"], "status": "ok"}
    workload = next(w for w in suite_workloads(spec["suite"]) if w.name == spec["workload"])
    source = TokenizerSource(**spec["tokenizer"])
    try:
        engine = create_engine(spec["engine"])
    except EngineUnavailable as exc:
        return result | {"status": "not installed", "error": str(exc)}
    result["version"] = engine.version()
    result["notes"] = engine.environment_notes()
    if not engine.supports(workload):
        return result | {"status": "unsupported", "error": f"no {workload.kind.value} front-end"}

    hf_tokenizer = None
    if engine.needs_hf_tokenizer:
        started = time.perf_counter()
        hf_tokenizer = source.load_hf()
        result["tokenizer_load_s"] = time.perf_counter() - started
    started = time.perf_counter()
    engine.prepare(source, hf_tokenizer)
    result["prepare_s"] = time.perf_counter() - started
    result["vocab_size"] = engine.vocab_size

    started = time.perf_counter_ns()
    try:
        handle = engine.compile(workload)
    except UnsupportedWorkload as exc:
        return result | {"status": "unsupported", "error": str(exc), "peak_rss_mb": peak_rss_mb()}
    except Exception as exc:  # an engine's own error type: report it, do not crash the run
        return result | {
            "status": "compile error",
            "error": f"{type(exc).__name__}: {exc}",
            "peak_rss_mb": peak_rss_mb(),
        }
    result["compile_ms"] = (time.perf_counter_ns() - started) / 1e6
    started = time.perf_counter_ns()
    engine.compile(workload)
    result["compile_again_ms"] = (time.perf_counter_ns() - started) / 1e6

    valid_ids: list[int] = spec["valid_ids"]
    eos_id: int = spec["eos_id"]
    stop_ids = sorted(engine.stop_token_ids() | {eos_id})
    warmup = walk(
        engine, handle, valid_ids, eos_id, special_ids=spec.get("special_ids", []), stop_ids=stop_ids
    )
    result["first_mask_us"] = warmup.mask_ns[0] / 1000.0
    result["allowed_counts"] = warmup.allowed_counts
    result["special_allowed"] = warmup.special_allowed
    result["valid"] = warmup.summary()

    mask_ns: list[int] = []
    consume_ns: list[int] = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(spec["reps"]):
            timed = walk(engine, handle, valid_ids, eos_id)
            mask_ns.extend(timed.mask_ns)
            consume_ns.extend(timed.consume_ns)
    finally:
        gc.enable()
    result["mask_us"] = percentiles_us(mask_ns)
    result["consume_us"] = percentiles_us(consume_ns)
    result["mask_samples_us"] = [round(ns / 1000.0, 3) for ns in mask_ns]

    invalid = walk(engine, handle, spec["invalid_ids"], eos_id)
    result["invalid"] = invalid.summary()
    result["valid_refused"] = not warmup.accepted
    result["invalid_accepted"] = invalid.accepted
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_worker_safely(spec: dict[str, Any]) -> dict[str, Any]:
    """`run_worker`, with any unexpected exception turned into a ``"crashed"`` result."""
    try:
        return run_worker(spec)
    except Exception as exc:
        return {
            "engine": spec.get("engine"),
            "workload": spec.get("workload"),
            "status": "crashed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
            "peak_rss_mb": peak_rss_mb(),
        }
