"""Evaluation of the distribution-correct samplers on the real default model (SmolLM2-135M).

    python -m benchmarks.samplers_kl [--seeds 3] [--output-dir benchmarks/results]

1. KL(exact || empirical) against the number of samples, for locally constrained (masked)
   sampling, ASAp and SMC (AWRS proposals), on small finite languages.  The exact target is
   P(w | w in L) over *token sequences*: every tokenization the matcher allows (not only the
   canonical one), each followed by EOS, at most ``max_tokens`` tokens, enumerated with
   `enumerate_language`.  The samplers draw token sequences too, so both sides live on the
   same space.  The LM is wrapped in `CachedNextTokenModel`: it is deterministic, so
   sampling against the memoised model is exactly sampling against the model, and each
   distinct prefix costs one real forward.  The empirical distribution is smoothed with
   0.5 pseudo-counts on the exact support (see `kl_divergence`); SMC's empirical
   distribution is the pooled weighted particles of ``n / particles`` runs, scaled to ``n``
   counts.  The exact KL of masked sampling's limit distribution (its bias floor) is
   computed too.
2. Constraint checks per token: AWRS (inside SMC) against vocabulary-wide masking (V checks
   per token) with SmolLM2 on two JSON tasks: a JSON-like regex and a JSON Schema
   (`compile_json_schema`, DFA back-end; the schema is bounded), without the memoising LM.
3. Wall time per generated token on the same tasks, every sampler with the same model,
   prompt and number of sequences (4), prompt KV cache filled before the clock starts:
   masked one sequence at a time (the baseline for ASAp, which is sequential by design),
   masked with the 4 sequences batched (the baseline for SMC's 4 batched particles), SMC
   and ASAp; one torch thread, fastest of two interleaved rounds.

Writes ``samplers-kl.md``, ``samplers-kl.json`` and (with matplotlib) ``samplers-kl.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

KL_TASKS = [
    {
        "name": "yes-no-maybe",
        "pattern": "(yes|no|maybe)",
        "prompt": "Is the sky green? Answer with yes, no or maybe.",
        "max_tokens": 5,
    },
    {
        "name": "binary-1to3",
        "pattern": "(0|1){1,3}",
        "prompt": "Write a short binary number.",
        "max_tokens": 3,
    },
]
JSON_TASKS = [
    {
        "name": "json-person-regex",
        "pattern": r'\{"name": "[A-Z][a-z]{1,8}", "age": [1-9][0-9]?\}',
        "prompt": "Return a JSON object describing a person with a name and an age.",
        "max_tokens": 24,
    },
    {
        "name": "json-person-schema",
        "schema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 12},
                "age": {"type": "integer", "minimum": 0, "maximum": 120},
            },
            "required": ["name", "age"],
            "additionalProperties": False,
        },
        "prompt": "Return a JSON object describing a person with a name and an age.",
        "max_tokens": 32,
    },
]
COST_SAMPLES = 4  # sequences (masked, ASAp) or particles (SMC) per timed run
COST_ROUNDS = 2  # timed rounds, samplers interleaved; the fastest round is reported
SAMPLE_COUNTS = [10, 30, 100, 300, 1000, 2000]
SMC_PARTICLES = 10


def masked_limit_log_probs(lm, prompt_ids, compiled, sequences) -> dict[tuple[int, ...], float]:
    """Exact log-probability of each sequence (+EOS) under locally constrained sampling."""
    eos = min(compiled.vocab.eos_ids)
    out: dict[tuple[int, ...], float] = {}
    for ids in sequences:
        matcher = compiled.matcher()
        total = 0.0
        for step in range(len(ids) + 1):
            row = lm.next_token_logprobs(prompt_ids, [ids[:step]])[0]
            allowed = matcher.allowed_token_ids()
            log_z = float(np.logaddexp.reduce(row[allowed]))
            token = ids[step] if step < len(ids) else eos
            if step == len(ids):  # all EOS ids end the string
                eos_allowed = [t for t in allowed.tolist() if t in compiled.vocab.eos_ids]
                total += float(np.logaddexp.reduce(row[eos_allowed])) - log_z
            else:
                total += float(row[token]) - log_z
                matcher.consume_token(token)
        out[ids] = total
    return out


def smc_kl(target, runs, n: int) -> float:
    """KL against the pooled weighted particles of the first ``n / particles`` runs, scaled to n counts."""
    from automask.runtime.sampling_common import kl_divergence

    weighted: Counter = Counter()
    for run in runs[: max(1, n // SMC_PARTICLES)]:
        for ids, lw in zip(run.token_ids, run.log_weights.tolist(), strict=True):
            if lw > -math.inf:
                weighted[ids] += math.exp(lw)
    total = sum(weighted.values())
    return kl_divergence(target, {k: n * v / total for k, v in weighted.items()})


def run_kl_task(task, model, tokenizer, seeds: int) -> dict[str, Any]:
    import automask
    from automask.runtime.asap import ASAp
    from automask.runtime.sampling_common import (
        CachedNextTokenModel,
        HFNextTokenModel,
        enumerate_language,
        kl_divergence,
        logsumexp,
        normalise,
    )
    from automask.runtime.sampling_masked import MaskedSampler
    from automask.runtime.smc import SMC

    vocab = automask.Vocabulary.from_hf(tokenizer)
    compiled = automask.compile_regex(task["pattern"], vocab)
    lm = CachedNextTokenModel(HFNextTokenModel(model, tokenizer, vocab.size))
    prompt_ids = lm.encode_prompt(task["prompt"])
    max_tokens = task["max_tokens"]
    started = time.perf_counter()
    exact_log = enumerate_language(lm, prompt_ids, compiled, max_tokens=max_tokens)
    target = normalise(exact_log)
    masked_limit = normalise(masked_limit_log_probs(lm, prompt_ids, compiled, list(exact_log)))
    masked_floor = sum(p * math.log(p / masked_limit[k]) for k, p in target.items() if p > 0)
    by_text: dict[str, float] = {}
    for ids, p in target.items():
        text = vocab.decode(ids).decode("utf-8", errors="replace")
        by_text[text] = by_text.get(text, 0.0) + p
    enumerate_seconds = time.perf_counter() - started

    n_max = max(SAMPLE_COUNTS)
    curves: dict[str, list[list[float]]] = {"masked": [], "asap": [], "smc": [], "smc_exact_z": []}
    invalid = 0
    smc_estimates: list[float] = []
    sampling_started = time.perf_counter()
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        masked = MaskedSampler(lm, None, compiled).sample_token_ids(
            prompt_ids, n_max, max_tokens, generator=rng
        )
        asap = ASAp(lm, None, compiled).sample_token_ids(prompt_ids, n_max, max_tokens, generator=rng)
        smc = SMC(lm, None, compiled, particles=SMC_PARTICLES)
        runs = [smc.run(prompt_ids, max_tokens, generator=rng) for _ in range(n_max // SMC_PARTICLES)]
        smc_exact = SMC(lm, None, compiled, particles=SMC_PARTICLES, proposal="mask")
        runs_exact = [
            smc_exact.run(prompt_ids, max_tokens, generator=rng) for _ in range(n_max // SMC_PARTICLES)
        ]
        for ids in [*masked, *asap]:
            text = vocab.decode(ids).decode("utf-8", errors="replace") if ids is not None else None
            invalid += text is None or re.fullmatch(task["pattern"], text) is None
        curves["masked"].append([kl_divergence(target, Counter(masked[:n])) for n in SAMPLE_COUNTS])
        curves["asap"].append([kl_divergence(target, Counter(asap[:n])) for n in SAMPLE_COUNTS])
        curves["smc"].append([smc_kl(target, runs, n) for n in SAMPLE_COUNTS])
        curves["smc_exact_z"].append([smc_kl(target, runs_exact, n) for n in SAMPLE_COUNTS])
        smc_estimates += [math.exp(run.log_z) for run in runs]
    sampling_seconds = time.perf_counter() - sampling_started
    p_language = math.exp(logsumexp(np.array(list(exact_log.values()))))
    smc_z = float(np.mean(smc_estimates))
    return {
        "task": task,
        "num_token_sequences": len(exact_log),
        "num_strings": len(by_text),
        "p_language": p_language,
        "smc_p_language_mean": smc_z,
        "smc_p_language_stderr": float(np.std(smc_estimates, ddof=1) / math.sqrt(len(smc_estimates))),
        "smc_runs": len(smc_estimates),
        "exact_string_distribution": dict(sorted(by_text.items(), key=lambda kv: -kv[1])),
        "masked_limit_kl": masked_floor,
        "sample_counts": SAMPLE_COUNTS,
        "kl_mean": {k: np.mean(v, axis=0).tolist() for k, v in curves.items()},
        "kl_per_seed": curves,
        "invalid_samples": int(invalid),
        "distinct_prefixes_forwarded": lm.calls,
        "enumerate_seconds": enumerate_seconds,
        "sampling_seconds_cached_lm": sampling_seconds,
    }


def compile_task(task, vocab):
    import automask

    if "schema" in task:
        return automask.compile_json_schema(task["schema"], vocab, backend="dfa")
    return automask.compile_regex(task["pattern"], vocab)


def run_cost_task(task, model, tokenizer) -> dict[str, Any]:
    """Constraint checks and wall time per token of each sampler on one JSON task.

    Every sampler gets a fresh `HFNextTokenModel` whose prompt cache is filled before the
    clock starts, so all of them pay the same (nothing) for the prompt; then
    ``COST_SAMPLES`` sequences (masked one at a time, masked batched, ASAp) or particles
    (SMC).  Samplers are interleaved over ``COST_ROUNDS`` rounds against the machine's
    load drifting; per sampler the round with the lowest seconds/token is kept.
    """
    import automask
    from automask.runtime.asap import ASAp
    from automask.runtime.sampling_common import HFNextTokenModel
    from automask.runtime.sampling_masked import MaskedSampler
    from automask.runtime.smc import SMC

    vocab = automask.Vocabulary.from_hf(tokenizer)
    compiled = compile_task(task, vocab)
    max_tokens = task["max_tokens"]
    rng = np.random.default_rng(7)

    def fresh_lm() -> tuple[HFNextTokenModel, tuple[int, ...]]:
        lm = HFNextTokenModel(model, tokenizer, vocab.size)
        prompt_ids = lm.encode_prompt(task["prompt"])
        lm.next_token_logprobs(prompt_ids, [()])
        lm.forward_calls = lm.forward_tokens = 0
        return lm, prompt_ids

    def seq_tokens(ids) -> int:
        return sum(len(t) + 1 if t is not None else max_tokens + 1 for t in ids)

    def texts(ids) -> list[str | None]:
        return [vocab.decode(t).decode("utf-8", "replace") if t is not None else None for t in ids]

    def masked_result(ids: list[list[int]], seconds: float, lm: Any) -> dict[str, Any]:
        """The cost row of a masked sampler: every step is a full mask."""
        return {
            "samples": texts(ids),
            "tokens": seq_tokens(ids),
            "seconds": seconds,
            "checks_per_token": vocab.size,
            "forward_calls": lm.forward_calls,
            "forward_tokens": lm.forward_tokens,
        }

    def masked_single() -> dict[str, Any]:
        lm, prompt_ids = fresh_lm()
        started = time.perf_counter()
        sampler = MaskedSampler(lm, None, compiled)
        ids = [
            sampler.sample_token_ids(prompt_ids, 1, max_tokens, generator=rng)[0] for _ in range(COST_SAMPLES)
        ]
        return masked_result(ids, time.perf_counter() - started, lm)

    def masked_batched() -> dict[str, Any]:
        lm, prompt_ids = fresh_lm()
        started = time.perf_counter()
        ids = MaskedSampler(lm, None, compiled).sample_token_ids(
            prompt_ids, COST_SAMPLES, max_tokens, generator=rng
        )
        return masked_result(ids, time.perf_counter() - started, lm)

    def smc() -> dict[str, Any]:
        lm, prompt_ids = fresh_lm()
        started = time.perf_counter()
        result = SMC(lm, None, compiled, particles=COST_SAMPLES).run(prompt_ids, max_tokens, generator=rng)
        seconds = time.perf_counter() - started
        return {
            "samples": [t if ok else None for t, ok in zip(result.samples, result.complete, strict=True)],
            "tokens": result.num_tokens,
            "seconds": seconds,
            "checks_per_token": result.constraint_checks / max(result.num_tokens, 1),
            "log_z": result.log_z,
            "resamples": result.num_resamples,
            "forward_calls": lm.forward_calls,
            "forward_tokens": lm.forward_tokens,
        }

    def asap() -> dict[str, Any]:
        lm, prompt_ids = fresh_lm()
        started = time.perf_counter()
        sampler = ASAp(lm, None, compiled)
        ids = sampler.sample_token_ids(prompt_ids, COST_SAMPLES, max_tokens, generator=rng)
        seconds = time.perf_counter() - started
        return {
            "samples": texts(ids),
            "tokens": seq_tokens(ids),
            "seconds": seconds,
            "checks_per_token": "full mask per new trie node",
            "forward_calls": lm.forward_calls,
            "forward_tokens": lm.forward_tokens,
            "trie_nodes": sampler.num_nodes,
            "trie_bytes": sampler.trie_bytes,
        }

    samplers = {"masked": masked_single, "masked_batched": masked_batched, "smc_awrs": smc, "asap": asap}
    best: dict[str, dict[str, Any]] = {}
    for _ in range(COST_ROUNDS):
        for name, measure in samplers.items():
            row = measure()
            row["seconds_per_token"] = row["seconds"] / max(row["tokens"], 1)
            if name not in best or row["seconds_per_token"] < best[name]["seconds_per_token"]:
                best[name] = row
    out: dict[str, Any] = {"task": task, "vocab_size": vocab.size, **best}
    out["asap_overhead_vs_masked"] = (
        best["asap"]["seconds_per_token"] / best["masked"]["seconds_per_token"] - 1
    )
    out["smc_overhead_vs_masked_batched"] = (
        best["smc_awrs"]["seconds_per_token"] / best["masked_batched"]["seconds_per_token"] - 1
    )
    out["awrs_check_reduction"] = vocab.size / best["smc_awrs"]["checks_per_token"]
    return out


def write_markdown(report: dict[str, Any], path: Path) -> None:
    lines = [
        "# Distribution-correct samplers: KL to the exact constrained distribution",
        "",
        f"Model: SmolLM2-135M-Instruct (float32, CPU, 1 torch thread). Machine: {report['machine']}.",
        f"Seeds per curve: {report['seeds']}. Produced by `python -m benchmarks.samplers_kl`.",
        "",
        "Target: P(w | w in L) over token sequences, every tokenization the matcher allows, EOS-terminated.",
        "KL(exact || empirical) in nats, empirical smoothed with 0.5 pseudo-counts on the exact support",
        f"(so even a perfect sampler has KL > 0 at small n). SMC: {SMC_PARTICLES} particles per run, n / {SMC_PARTICLES} runs pooled.",
        "",
    ]
    for task in report["kl_tasks"]:
        t = task["task"]
        lines += [
            f"## `{t['pattern']}` (prompt: {t['prompt']!r}, max_tokens={t['max_tokens']})",
            "",
            f"{task['num_strings']} strings, {task['num_token_sequences']} token sequences; "
            f"P(L | prompt) = {task['p_language']:.4g}; SMC estimate (mean of {task['smc_runs']} runs "
            f"of {SMC_PARTICLES} particles, all seeds) = {task['smc_p_language_mean']:.4g} "
            f"± {task['smc_p_language_stderr']:.2g} (standard error).",
            f"Masked sampling's limit distribution is off by KL = {task['masked_limit_kl']:.4f} nats "
            f"(its floor). Invalid samples: {task['invalid_samples']}.",
            "",
            "| n | masked | ASAp | SMC (AWRS) | SMC (full mask, exact Z) |",
            "|---:|---:|---:|---:|---:|",
        ]
        for i, n in enumerate(task["sample_counts"]):
            row = [task["kl_mean"][k][i] for k in ("masked", "asap", "smc", "smc_exact_z")]
            lines.append(f"| {n} | " + " | ".join(f"{v:.4f}" for v in row) + " |")
        top = list(task["exact_string_distribution"].items())[:6]
        lines += ["", "Most probable strings: " + ", ".join(f"`{s}` {p:.3f}" for s, p in top), ""]
    for cost in report["cost"]:
        t = cost["task"]
        what = f"JSON Schema `{json.dumps(t['schema'])}`" if "schema" in t else f"regex `{t['pattern']}`"
        rows = [
            ("masked, one sequence at a time", "masked", f"{cost['vocab_size']} (full mask)"),
            (
                f"masked, {COST_SAMPLES} sequences batched",
                "masked_batched",
                f"{cost['vocab_size']} (full mask)",
            ),
            (f"SMC + AWRS, {COST_SAMPLES} particles", "smc_awrs", None),
            ("ASAp, one sequence at a time", "asap", "full mask per new trie node"),
        ]
        lines += [
            f"## Cost on {what} (max_tokens={t['max_tokens']})",
            "",
            f"Prompt: {t['prompt']!r}. {COST_SAMPLES} sequences (or particles) per sampler; fastest of "
            f"{COST_ROUNDS} interleaved rounds; prompt KV cache filled before timing.",
            "",
            "| sampler | tokens | s/token | constraint checks/token | forward calls | tokens forwarded |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for label, key, checks in rows:
            row = cost[key]
            checks = checks or f"{row['checks_per_token']:.2f}"
            lines.append(
                f"| {label} | {row['tokens']} | {row['seconds_per_token']:.4f} | {checks} "
                f"| {row['forward_calls']} | {row['forward_tokens']} |"
            )
        lines += [
            "",
            f"AWRS: {cost['smc_awrs']['checks_per_token']:.2f} checks per token (the Z estimate's tail draw "
            f"included) vs {cost['vocab_size']} for a full mask: {cost['awrs_check_reduction']:.0f}x fewer.",
            f"Per-token overhead: ASAp vs masked one sequence at a time {100 * cost['asap_overhead_vs_masked']:+.0f}%; "
            f"SMC vs masked batched {100 * cost['smc_overhead_vs_masked_batched']:+.0f}%.",
            f"ASAp trie after {COST_SAMPLES} samples: {cost['asap']['trie_nodes']} nodes, "
            f"{cost['asap']['trie_bytes']} bytes.",
            "",
            "Samples:",
            "",
            *(f"- {label}: " + ", ".join(_inline(x) for x in cost[key]["samples"]) for label, key, _ in rows),
            "",
        ]
    path.write_text("\n".join(lines))


def _inline(text: str | None) -> str:
    """A sample as one line of Markdown code (newlines escaped); incomplete ones as such."""
    return "(incomplete)" if text is None else "`" + text.replace("\n", "\\n") + "`"


def write_plot(report: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    tasks = report["kl_tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for name, label in (
            ("masked", "masked"),
            ("asap", "ASAp"),
            ("smc", "SMC (AWRS)"),
            ("smc_exact_z", "SMC (exact Z)"),
        ):
            ax.plot(task["sample_counts"], task["kl_mean"][name], marker="o", label=label)
        ax.axhline(task["masked_limit_kl"], color="grey", linestyle="--", label="masked limit")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("samples")
        ax.set_ylabel("KL(exact || empirical) [nats]")
        ax.set_title(task["task"]["pattern"])
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)

    import torch

    import automask

    torch.set_num_threads(1)  # small forwards on a shared CPU: one thread is ~10x faster
    started = time.perf_counter()
    model, tokenizer = automask.load_default_model()
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "seeds": args.seeds,
        "kl_tasks": [],
    }
    for task in KL_TASKS:
        report["kl_tasks"].append(run_kl_task(task, model, tokenizer, args.seeds))
        print(json.dumps({k: v for k, v in report["kl_tasks"][-1].items() if k != "kl_per_seed"}, indent=1))
    report["cost"] = [run_cost_task(task, model, tokenizer) for task in JSON_TASKS]
    print(json.dumps(report["cost"], indent=1))
    report["total_seconds"] = time.perf_counter() - started
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "samplers-kl.json").write_text(json.dumps(report, indent=1))
    write_markdown(report, args.output_dir / "samplers-kl.md")
    if write_plot(report, args.output_dir / "samplers-kl.png"):
        print("wrote samplers-kl.png")
    print(f"total {report['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
