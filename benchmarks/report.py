"""Turning worker results into the side-by-side markdown tables and the raw-numbers JSON.

Cells follow ANCHORS.md: ``compile ms · mask p50 µs · mask p99 µs``, with **V!** when the valid
example was refused and **I!** when the invalid example was accepted.  With several runs
(fresh processes) per cell, each number is the median over the runs.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.workloads.base import Workload

# Short cell texts for results without numbers.
_STATUS_CELL = {
    "not installed": "not installed",
    "unsupported": "n/a",
    "timeout": "timeout",
    "out of memory": "out of memory",
    "crashed": "crashed",
    "compile error": "compile error",
}


def save_report(output_dir: Path, stem: str, markdown: str, document: dict[str, Any]) -> None:
    """Write ``<stem>.md`` and ``<stem>.json`` under ``output_dir`` (the committed results)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{stem}.md").write_text(markdown, encoding="utf-8")
    (output_dir / f"{stem}.json").write_text(
        json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    print(f"wrote {output_dir / stem}.md and .json", file=sys.stderr)


def fmt(value: float | None) -> str:
    """A number with about two significant digits, like ANCHORS.md (0.07, 5.5, 14, 1587)."""
    if value is None:
        return "?"
    if value < 0.1:
        return f"{value:.2f}"
    if value < 10:
        return f"{value:.1f}"
    return f"{value:.0f}"


def fmt_ratio(value: float | None) -> str:
    """Two significant digits below 10 (0.0041×, 0.32×, 2.5×), whole numbers above."""
    if value is None:
        return "–"
    return f"{value:.2g}×" if value < 10 else f"{value:.0f}×"


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combine the runs of one engine × workload: medians when all succeeded, else the first failure."""
    failed = [r for r in runs if r.get("status") != "ok"]
    if failed:
        first = failed[0]
        return {"status": first.get("status", "crashed"), "error": first.get("error", ""), "runs": len(runs)}

    def median(path: tuple[str, ...]) -> float | None:
        values = []
        for run in runs:
            value: Any = run
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None:
                values.append(float(value))
        return statistics.median(values) if values else None

    return {
        "status": "ok",
        "runs": len(runs),
        "version": runs[0].get("version"),
        "compile_ms": median(("compile_ms",)),
        "compile_again_ms": median(("compile_again_ms",)),
        "first_mask_us": median(("first_mask_us",)),
        "mask_p50_us": median(("mask_us", "p50")),
        "mask_p99_us": median(("mask_us", "p99")),
        "mask_max_us": median(("mask_us", "max")),
        "consume_p50_us": median(("consume_us", "p50")),
        "peak_rss_mb": median(("peak_rss_mb",)),
        "prepare_s": median(("prepare_s",)),
        "tokenizer_load_s": median(("tokenizer_load_s",)),
        "valid_refused": any(r.get("valid_refused") for r in runs),
        "invalid_accepted": any(r.get("invalid_accepted") for r in runs),
        "allowed_counts": runs[0].get("allowed_counts", []),
        "special_allowed": max(r.get("special_allowed", 0) for r in runs),
        "notes": runs[0].get("notes", []),
    }


def flags(summary: dict[str, Any]) -> str:
    marks = []
    if summary.get("valid_refused"):
        marks.append("V!")
    if summary.get("invalid_accepted"):
        marks.append("I!")
    return (" " + " ".join(marks)) if marks else ""


def main_cell(summary: dict[str, Any]) -> str:
    if summary["status"] != "ok":
        return _STATUS_CELL.get(summary["status"], summary["status"])
    numbers = (summary["compile_ms"], summary["mask_p50_us"], summary["mask_p99_us"])
    return "·".join(fmt(v) for v in numbers) + flags(summary)


def detail_cell(summary: dict[str, Any]) -> str:
    if summary["status"] != "ok":
        return _STATUS_CELL.get(summary["status"], summary["status"])
    numbers = (
        summary["compile_again_ms"],
        summary["first_mask_us"],
        summary["mask_max_us"],
        summary["peak_rss_mb"],
    )
    return "·".join(fmt(v) for v in numbers)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def ratio_cell(ours: dict[str, Any], peer: dict[str, Any]) -> str:
    if ours["status"] != "ok" or peer["status"] != "ok":
        return "–"
    keys = ("compile_ms", "mask_p50_us", "mask_p99_us")
    return "·".join(fmt_ratio(ratio(ours[k], peer[k])) for k in keys)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def count_disagreements(
    workloads: Sequence[Workload], engines: Sequence[str], summaries: dict[str, dict[str, dict[str, Any]]]
) -> list[str]:
    """One line per workload where engines allow different numbers of regular tokens on the valid walk.

    Special tokens are not counted (engines differ in which ids they treat as EOS), so every
    engine should allow the same number at every step; a difference points at a soundness or
    completeness difference, or at different regex semantics (e.g. Unicode vs ASCII ``\\d``).
    Special tokens other than EOS that an engine allows are listed too: they should be none.
    """
    lines = []
    for workload in workloads:
        counts = {
            e: summaries[workload.name][e]["allowed_counts"]
            for e in engines
            if summaries[workload.name][e]["status"] == "ok"
        }
        if len(counts) < 2:
            continue
        length = min(len(c) for c in counts.values())
        for step in range(length):
            at_step = {e: c[step] for e, c in counts.items()}
            if len(set(at_step.values())) > 1:
                listed = ", ".join(f"{e} {n}" for e, n in at_step.items())
                lines.append(f"- {workload.label}: first difference at step {step}: {listed}")
                break
        for engine in counts:
            if special := summaries[workload.name][engine].get("special_allowed"):
                lines.append(
                    f"- {workload.label}: {engine} allows {special} special tokens (not its stop tokens) at some step"
                )
    return lines


def render_markdown(
    *,
    title: str,
    meta: dict[str, Any],
    workloads: Sequence[Workload],
    engines: Sequence[str],
    summaries: dict[str, dict[str, dict[str, Any]]],
    reference_engine: str = "automask",
) -> str:
    """The results page: side-by-side table, ratios, first/worst mask and memory, preparation times."""
    lines = [f"# {title}", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items()]
    lines += [
        "",
        "Each cell: compile ms · mask p50 µs · mask p99 µs over every step of the timed walks "
        "(EOS mask last). **V!** valid example refused, **I!** invalid example accepted; "
        "n/a: the engine has no front-end for the workload.",
        "",
    ]
    rows = [[w.label] + [main_cell(summaries[w.name][e]) for e in engines] for w in workloads]
    lines += _table(["workload", *engines], rows)

    peers = [e for e in engines if e != reference_engine]
    if reference_engine in engines and peers:
        lines += [
            "",
            f"## {reference_engine} / peer ratios",
            "",
            "compile · mask p50 · mask p99; below 1 means automask is faster.",
            "",
        ]
        rows = [
            [w.label] + [ratio_cell(summaries[w.name][reference_engine], summaries[w.name][p]) for p in peers]
            for w in workloads
        ]
        lines += _table(["workload", *(f"vs {p}" for p in peers)], rows)

    lines += [
        "",
        "## Warm compile, first mask, worst mask, memory",
        "",
        "Each cell: second compile in the same process ms · first mask µs (warm-up walk) · "
        "max mask µs (timed walks) · peak RSS MB of the process.",
        "",
    ]
    rows = [[w.label] + [detail_cell(summaries[w.name][e]) for e in engines] for w in workloads]
    lines += _table(["workload", *engines], rows)

    lines += ["", "## Tokenizer preparation (once per tokenizer, median over workers)", ""]
    for engine in engines:
        ok = [summaries[w.name][engine] for w in workloads if summaries[w.name][engine]["status"] == "ok"]
        if not ok:
            lines.append(f"- {engine}: " + main_cell(summaries[workloads[0].name][engine]))
            continue
        prepare = statistics.median(s["prepare_s"] for s in ok)
        loads = [s["tokenizer_load_s"] for s in ok if s.get("tokenizer_load_s") is not None]
        load_text = f" (after loading the HF tokenizer: {fmt(statistics.median(loads))} s)" if loads else ""
        lines.append(f"- {engine} {ok[0].get('version', '')}: {fmt(prepare)} s{load_text}")

    disagreements = count_disagreements(workloads, engines, summaries)
    if disagreements:
        lines += [
            "",
            "## Mask differences between engines (warm-up walk of the valid example)",
            "",
            "Regular (non-special) tokens allowed per step should agree across engines; a difference "
            "is a soundness/completeness gap or different regex semantics (e.g. `\\d` as ASCII or "
            "Unicode digits). Special tokens other than an engine's stop tokens should never be allowed.",
            "",
        ]
        lines += disagreements

    where: dict[str, list[str]] = {}
    for w in workloads:
        for e in engines:
            for note in summaries[w.name][e].get("notes", []):
                where.setdefault(f"{e}: {note}", []).append(w.name)
    notes = [f"{note} (at start of: {', '.join(names)})" for note, names in where.items()]
    failures = [
        f"- {w.label} / {e}: {summaries[w.name][e]['status']}: {summaries[w.name][e].get('error', '')[:300]}"
        for w in workloads
        for e in engines
        if summaries[w.name][e]["status"] not in ("ok", "unsupported", "not installed")
    ]
    if notes or failures:
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in notes]
        lines += failures
    return "\n".join(lines) + "\n"
