"""MaskBench results: judging each schema, per-engine summaries, the markdown report.

A per-schema record (one engine, one schema) is the worker's reply without its timing samples:
``status`` ("ok", "compile error", "walk error", "timeout", "out of memory", "crashed", ...),
``error_kind``, ``compile_us``, ``first_mask_us``, ``tests`` (per instance: valid, accepted).
`judge` turns it into the MaskBench verdict; `summarise` adds up an engine's records and its
mask samples; `render_markdown` writes the side-by-side table.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.report import fmt, fmt_ratio

BASELINE = "llguidance"

# Statuses that mean the engine never judged the instances: each counts as a compile error.
_UNJUDGED_KINDS = {"timeout": "timeout", "out of memory": "out of memory", "crashed": "crashed"}


def error_kind(record: dict[str, Any]) -> str | None:
    """Why an engine failed to compile (or finish) a schema, or None when it judged every test."""
    status = record.get("status")
    if status == "ok":
        return None
    if status in _UNJUDGED_KINDS:
        return _UNJUDGED_KINDS[status]
    if status == "walk error":
        return f"walk: {record.get('error_kind', '?')}"
    if status == "compile error":
        return record.get("error_kind") or "error"
    return str(status)


def judge(record: dict[str, Any]) -> dict[str, Any]:
    """``{"passing", "compile_error", "validation_errors", "invalidation_errors"}`` for one record.

    Validation error: a valid instance refused (at a token or at EOS); invalidation error: an
    invalid instance accepted through EOS.  A schema passes when it compiled and every
    instance was judged right.
    """
    kind = error_kind(record)
    if kind is not None:
        return {"passing": False, "compile_error": kind, "validation_errors": 0, "invalidation_errors": 0}
    tests = record.get("tests", [])
    refused = sum(1 for t in tests if t["valid"] and not t["accepted"])
    accepted = sum(1 for t in tests if not t["valid"] and t["accepted"])
    return {
        "passing": refused == 0 and accepted == 0,
        "compile_error": None,
        "validation_errors": refused,
        "invalidation_errors": accepted,
    }


def _percentiles(values: Sequence[float], points: Sequence[float]) -> dict[str, float | None]:
    if len(values) == 0:
        return {f"p{p:g}": None for p in points}
    array = np.asarray(values, dtype=np.float64)
    return {f"p{p:g}": float(np.percentile(array, p)) for p in points}


def timings(records: Sequence[dict[str, Any]], mask_us: Sequence[float]) -> dict[str, Any]:
    """Compile and mask percentiles: ``ttfm_us``, ``compile_us`` (p50, p99), ``masks``, ``mask_us``.

    Compile times are over the records that compiled: ``ttfm_us`` is compile + first mask
    (MaskBench's "time to first mask"), ``compile_us`` the compile call alone.  Mask times are
    every mask of every walk (the first mask after compile excluded: it is in the TTFM).
    """
    compiled = [r for r in records if r.get("status") == "ok"]
    masks = np.asarray(mask_us, dtype=np.float64)
    return {
        "ttfm_us": _percentiles([r["compile_us"] + r["first_mask_us"] for r in compiled], (50, 99)),
        "compile_us": _percentiles([r["compile_us"] for r in compiled], (50, 99)),
        "masks": int(masks.size),
        "mask_us": {"avg": float(masks.mean()) if masks.size else None}
        | _percentiles(masks, (50, 99, 99.9))
        | {"max": float(masks.max()) if masks.size else None},
    }


def summarise(records: Sequence[dict[str, Any]], mask_us: Sequence[float]) -> dict[str, Any]:
    """One engine's totals over the sample: verdict counts, errors by kind, and `timings`."""
    verdicts = [judge(r) for r in records]
    kinds = collections.Counter(v["compile_error"] for v in verdicts if v["compile_error"] is not None)
    return {
        "schemas": len(records),
        "passing": sum(v["passing"] for v in verdicts),
        "compile_errors": sum(kinds.values()),
        "compile_errors_by_kind": dict(kinds.most_common()),
        "validation_errors": sum(v["validation_errors"] for v in verdicts),
        "schemas_with_validation_errors": sum(1 for v in verdicts if v["validation_errors"]),
        "invalidation_errors": sum(v["invalidation_errors"] for v in verdicts),
        "schemas_with_invalidation_errors": sum(1 for v in verdicts if v["invalidation_errors"]),
    } | timings(records, mask_us)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def ratios_vs_baseline(summaries: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """engine -> {metric: engine / llguidance} for the timing metrics (absent without llguidance)."""
    base = summaries.get(BASELINE)
    if base is None or base.get("status") == "not installed":
        return {}
    out = {}
    for engine, s in summaries.items():
        if s.get("status") == "not installed":
            continue
        out[engine] = {
            "ttfm_p50": _ratio(s["ttfm_us"]["p50"], base["ttfm_us"]["p50"]),
            "ttfm_p99": _ratio(s["ttfm_us"]["p99"], base["ttfm_us"]["p99"]),
            "mask_avg": _ratio(s["mask_us"]["avg"], base["mask_us"]["avg"]),
            "mask_p50": _ratio(s["mask_us"]["p50"], base["mask_us"]["p50"]),
            "mask_p99": _ratio(s["mask_us"]["p99"], base["mask_us"]["p99"]),
            "mask_p99.9": _ratio(s["mask_us"]["p99.9"], base["mask_us"]["p99.9"]),
        }
    return out


def _cells(values: Sequence[float | None]) -> str:
    return " / ".join(fmt(v) for v in values)


def render_markdown(document: dict[str, Any], *, list_limit: int = 40) -> str:
    """The report: meta, the side-by-side table, ratios, errors by kind, notable schemas."""
    engines: list[str] = document["engines"]
    summaries: dict[str, dict[str, Any]] = document["summaries"]
    live = [e for e in engines if summaries[e].get("status") != "not installed"]
    lines = [f"# {document['title']}", ""]
    lines += [f"- **{key}**: {value}" for key, value in document["meta"].items()]
    lines += ["", "| | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        cells = [cell(summaries[e]) if e in live else "not installed" for e in engines]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    n = document["sample"]["schemas"]
    row(f"schemas passing (of {n})", lambda s: str(s["passing"]))
    row("compile errors (incl. timeouts)", lambda s: str(s["compile_errors"]))
    row(
        "  of which timeout / out of memory",
        lambda s: "{} / {}".format(
            s["compile_errors_by_kind"].get("timeout", 0), s["compile_errors_by_kind"].get("out of memory", 0)
        ),
    )
    row(
        "validation errors: valid refused (schemas)",
        lambda s: f"{s['validation_errors']} ({s['schemas_with_validation_errors']})",
    )
    row(
        "invalidation errors: invalid accepted (schemas)",
        lambda s: f"{s['invalidation_errors']} ({s['schemas_with_invalidation_errors']})",
    )
    row(
        "compile µs p50 / p99 (TTFM: compile + first mask)",
        lambda s: _cells([s["ttfm_us"]["p50"], s["ttfm_us"]["p99"]]),
    )
    row("compile call alone µs p50 / p99", lambda s: _cells([s["compile_us"]["p50"], s["compile_us"]["p99"]]))
    row(
        "mask µs avg / p50 / p99 / p99.9",
        lambda s: _cells([s["mask_us"][k] for k in ("avg", "p50", "p99", "p99.9")]),
    )
    row("mask µs max", lambda s: fmt(s["mask_us"]["max"]))
    row("masks timed", lambda s: str(s["masks"]))
    if all("common" in summaries[e] for e in live):
        common = summaries[live[0]]["common"]["schemas"]
        row(
            f"on the {common} schemas every engine passes: TTFM µs p50 / p99",
            lambda s: _cells([s["common"]["ttfm_us"]["p50"], s["common"]["ttfm_us"]["p99"]]),
        )
        row(
            f"on the {common} schemas every engine passes: mask µs avg / p50 / p99 / p99.9",
            lambda s: _cells([s["common"]["mask_us"][k] for k in ("avg", "p50", "p99", "p99.9")]),
        )
    ratios = document.get("ratios", {})
    if ratios:
        row(
            f"TTFM p50 / p99 vs {BASELINE}",
            lambda s: " / ".join(fmt_ratio(ratios[s["engine"]][k]) for k in ("ttfm_p50", "ttfm_p99")),
        )
        row(
            f"mask avg / p50 / p99 / p99.9 vs {BASELINE}",
            lambda s: " / ".join(
                fmt_ratio(ratios[s["engine"]][k]) for k in ("mask_avg", "mask_p50", "mask_p99", "mask_p99.9")
            ),
        )

    lines += ["", "## Compile errors by kind", ""]
    for e in live:
        kinds = summaries[e]["compile_errors_by_kind"]
        text = ", ".join(f"{k}: {v}" for k, v in kinds.items()) if kinds else "none"
        lines.append(f"- **{e}**: {text}")

    lines += [
        "",
        "## Passing by subset",
        "",
        "| subset | schemas | " + " | ".join(live) + " |",
        "|---|---|" + "---|" * len(live),
    ]
    for subset, counts in sorted(document["by_subset"].items()):
        lines.append(f"| {subset} | {counts['schemas']} | " + " | ".join(str(counts[e]) for e in live) + " |")

    verdicts = document["verdicts"]  # schema id -> engine -> verdict
    lines += ["", "## Invalidation errors (invalid instance accepted)", ""]
    any_invalidation = False
    for e in live:
        ids = [sid for sid, v in verdicts.items() if v[e]["invalidation_errors"]]
        if ids:
            any_invalidation = True
            shown = ", ".join(ids[:list_limit]) + (" …" if len(ids) > list_limit else "")
            lines.append(f"- **{e}** ({len(ids)} schemas): {shown}")
    if not any_invalidation:
        lines.append("none")

    if "automask" in live and BASELINE in live:
        lines += ["", f"## Schemas {BASELINE} passes and automask does not", ""]
        worse = [
            (sid, v["automask"])
            for sid, v in verdicts.items()
            if v[BASELINE]["passing"] and not v["automask"]["passing"]
        ]
        better = [
            sid for sid, v in verdicts.items() if v["automask"]["passing"] and not v[BASELINE]["passing"]
        ]
        lines.append(f"{len(worse)} schemas (automask passes {len(better)} that {BASELINE} does not).")
        lines.append("")
        for sid, v in worse[:list_limit]:
            why = v["compile_error"] or (
                f"{v['validation_errors']} valid refused, {v['invalidation_errors']} invalid accepted"
            )
            detail = document["errors"].get(sid, {}).get("automask", "")
            lines.append(f"- `{sid}`: {why}" + (f" — {detail[:160]}" if detail else ""))
        if len(worse) > list_limit:
            lines.append(f"- … {len(worse) - list_limit} more in the JSON")
    lines.append("")
    return "\n".join(lines)
