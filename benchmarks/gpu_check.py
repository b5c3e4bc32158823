"""End-to-end check of automask with a model on a CUDA device, plus per-step timings.

    python3 -m benchmarks.gpu_check --out DIR [--device cuda|cpu] [--dtype float32|bfloat16]

The model is a randomly initialised two-layer Llama shaped like SmolLM2-135M (same vocabulary
size, tied embeddings, grouped-query attention) but with a hidden size of 64, built on the
device from a config, together with the *real* SmolLM2 tokenizer and vocabulary
(``automask.load_tokenizer("smollm2")`` / ``load_vocabulary("smollm2")``).  The project's
default model (a 98 MB GGUF) does not fit the 64 MiB that reaches the GPU machine, and none is
needed: a constrained output is valid whatever the weights, so a random model checks the
integration (devices, dtypes, caches, masks, stopping) honestly; it says nothing about output
quality, and its timings are those of a tiny model (the mask and the Python per step weigh
far more than they would next to a real forward).

What it does, on ``--device``:

1. generates with ``model.generate`` and `automask.LogitsProcessor` (sampling, a batch of
   three left-padded prompts) under a JSON Schema (string with length bounds, bounded integer,
   enum, nested array) and under the bundled ``arithmetic.gbnf``; every row that ends with EOS
   must parse and validate, and EOS must come where the output is complete;
2. runs `automask.generate`'s helper, `MaskedSampler`, `ASAp` and `SMC` (AWRS and full-mask
   proposals) on the same model and validates their outputs, and checks the samplers'
   key/value caches (`HFNextTokenModel`) against recomputing every call;
3. times, per step: a mask fill on the CPU (``Matcher.fill_next_token_bitmask``), applying
   the mask to device logits (`apply_token_bitmask_inplace`, host bitmask copied over, and
   a bitmask already on the device), and tokens/s of constrained against unconstrained
   ``generate`` for the same model, batch and number of steps.

It writes ``gpu_check.md`` and ``gpu_check.json`` to ``--out`` and exits 1 if a check failed.
The checks of step 1 and 2 are also ``tests/test_gpu.py`` (skipped without CUDA), which
imports its helpers from here.  How the GPU run is set up: ``benchmarks/gpu_check.md``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers

import automask
from automask.runtime.bitmask import _allowed_columns, allocate_token_bitmask, apply_token_bitmask_inplace
from automask.runtime.integrations.transformers import LogitsProcessor, generate_with_stats
from automask.runtime.sampling_common import HFNextTokenModel, cache_keyword

PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 6},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "color": {"enum": ["red", "green", "blue"]},
        "points": {
            "type": "array",
            "items": {
                "type": "array",
                "items": {"type": "integer", "minimum": -5, "maximum": 5},
                "maxItems": 2,
            },
            "minItems": 1,
            "maxItems": 2,
        },
    },
    "required": ["name", "age", "color", "points"],
    "additionalProperties": False,
}
"""The generate check's schema.  Every string, array and integer is bounded so that a random
model (near-uniform over the allowed tokens) finishes within the token budget."""

SMALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer", "minimum": 0, "maximum": 9}},
    "required": ["ok", "n"],
    "additionalProperties": False,
}
"""The samplers' schema: small, so ASAp's trie and SMC's rejection runs stay short."""

TEXT_REGEX = r"[a-z ,.]+"
"""A regular constraint for the tokens/s runs: cheap DFA masks, and it never forces EOS."""

PROMPTS = ("Describe a person as JSON.", "Another one, please.", "Reply with JSON only.")

GRAMMAR_EOS_BIAS = 6.0
"""Logit added to EOS (where the mask allows it) in the grammar check: arithmetic expressions
are unbounded, and a random model rarely picks EOS among dozens of allowed tokens."""

KV_CACHE_CALLS: tuple[list[tuple[int, ...]], ...] = (
    [()],
    [(16,)],
    [(16, 17)],  # path: extend by one
    [(16,)],  # path: crop back up
    [(17, 19)],  # path: branch off at the root
    [(16, 17), (17, 19), (16, 18)],  # batch: recomputed
    [(16, 17, 1), (16, 17, 2), (16, 18, 3)],  # batch: rows selected (an index tensor), repeated, dropped
    [(5,), (6, 7)],  # mixed lengths: recomputed
)
"""`HFNextTokenModel` call sequence that takes each cache path (as in tests/test_samplers.py)."""


# -- the model ---------------------------------------------------------------------------------
def tiny_llama(
    vocab_size: int,
    *,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
    padded_rows: int = 0,
    seed: int = 0,
) -> Any:
    """A random two-layer Llama with SmolLM2-135M's shape at a 64-wide hidden state.

    ``padded_rows`` adds embedding rows past the vocabulary (as models padded to a multiple of
    64 have), whose logits the constraint must always refuse.
    """
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=vocab_size + padded_rows,
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        rope_theta=100_000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    model = transformers.LlamaForCausalLM(config)
    return model.to(device=device, dtype=dtype).eval()


def left_padded_inputs(
    tokenizer: Any, prompts: Sequence[str], device: torch.device
) -> dict[str, torch.Tensor]:
    """Chat-templated prompts as one left-padded batch on ``device``."""
    tokenizer = copy.copy(tokenizer)
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    chats = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
        )
        for p in prompts
    ]
    encoded = tokenizer(chats, add_special_tokens=False, padding=True, return_tensors="pt")
    return {name: encoded[name].to(device) for name in ("input_ids", "attention_mask")}


class EosBias(transformers.LogitsProcessor):
    """Adds ``bias`` to the EOS logits; after automask's mask, so a refused EOS stays ``-inf``."""

    def __init__(self, eos_ids: Sequence[int], bias: float) -> None:
        self.eos_ids = list(eos_ids)
        self.bias = bias

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores[:, self.eos_ids] += self.bias
        return scores


def logits_processors(
    grammar: Any | None, tokenizer: Any, eos_bias: float = 0.0
) -> tuple[list[Any], LogitsProcessor | None]:
    """The processors of one ``generate`` call: ``grammar``'s `LogitsProcessor` (none without a
    grammar), then the EOS bias if any; and the `LogitsProcessor`, for its counters."""
    if grammar is None:
        return [], None
    processor = LogitsProcessor(grammar, pad_token_id=tokenizer.pad_token_id)
    processors: list[Any] = [processor]
    if eos_bias:
        processors.append(EosBias(sorted(grammar.vocab.eos_ids), eos_bias))
    return processors, processor


def sample(model: Any, tokenizer: Any, inputs: dict[str, Any], processors: list[Any], **lengths: Any) -> Any:
    """``model.generate`` by pure sampling (no top-k) with ``processors``; ``lengths``: the
    ``*_new_tokens`` / ``eos_token_id`` arguments."""
    with torch.inference_mode():
        return model.generate(
            **inputs,
            logits_processor=transformers.LogitsProcessorList(processors),
            do_sample=True,
            top_k=0,
            pad_token_id=tokenizer.pad_token_id,
            **lengths,
        )


def constrained_generate(
    model: Any,
    tokenizer: Any,
    grammar: Any,
    prompts: Sequence[str],
    *,
    seed: int,
    max_new_tokens: int,
    eos_bias: float = 0.0,
) -> tuple[list[list[int]], LogitsProcessor]:
    """``model.generate`` with `automask.LogitsProcessor`, sampling; the generated ids per row."""
    vocab = grammar.vocab
    inputs = left_padded_inputs(tokenizer, prompts, model.device)
    processors, processor = logits_processors(grammar, tokenizer, eos_bias)
    assert processor is not None
    torch.manual_seed(seed)
    output = sample(
        model,
        tokenizer,
        inputs,
        processors,
        max_new_tokens=max_new_tokens,
        eos_token_id=sorted(vocab.eos_ids),
    )
    if output.device.type != model.device.type:
        raise AssertionError(f"generate returned ids on {output.device}, the model is on {model.device}")
    return output[:, inputs["input_ids"].shape[1] :].tolist(), processor


# -- validation --------------------------------------------------------------------------------
def finished_text(
    grammar: Any, row: Sequence[int], *, pad_token_id: int | None, ends_when_complete: bool = False
) -> str | None:
    """The text of one generated row if it ended with EOS, ``None`` if it ran out of tokens.

    Replays the row on a fresh matcher (every token before EOS must be allowed), and checks
    that EOS came where the output is complete and that only EOS / pad follow it.  With
    ``ends_when_complete`` (a language where no complete output extends, e.g. one JSON
    object), EOS must also be the only token the matcher allows there, i.e. generation
    stopped exactly where the output completed.  Raises AssertionError otherwise.
    """
    vocab = grammar.vocab
    end = next((i for i, t in enumerate(row) if t in vocab.eos_ids), None)
    body = list(row if end is None else row[:end])
    matcher = grammar.matcher()
    for step, token in enumerate(body):
        if not matcher.consume_token(token):
            raise AssertionError(f"token {token} at step {step} is refused by the constraint: {body}")
    if end is None:
        return None
    if not matcher.is_accepting():
        raise AssertionError(f"EOS before the output was complete: {vocab.decode(body)!r}")
    if ends_when_complete and not set(matcher.allowed_token_ids().tolist()) <= vocab.eos_ids:
        raise AssertionError(f"the output could have gone on after {vocab.decode(body)!r}")
    tail = [t for t in row[end + 1 :] if t not in vocab.eos_ids and t != pad_token_id]
    if tail:
        raise AssertionError(f"tokens after EOS: {tail}")
    return vocab.decode(body).decode("utf-8")


def is_json_integer(value: Any) -> bool:
    """JSON Schema's integer: any number with a zero fractional part (``3.0`` and ``-0`` count)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()


def check_person(value: Any) -> None:
    """Explicit assertions for `PERSON_SCHEMA` (jsonschema is not installed on the GPU machine)."""
    assert isinstance(value, dict) and set(value) == {"name", "age", "color", "points"}, value
    assert isinstance(value["name"], str) and 1 <= len(value["name"]) <= 6, value
    assert is_json_integer(value["age"]) and 0 <= value["age"] <= 120, value
    assert value["color"] in ("red", "green", "blue"), value
    points = value["points"]
    assert isinstance(points, list) and 1 <= len(points) <= 2, value
    for inner in points:
        assert isinstance(inner, list) and len(inner) <= 2, value
        assert all(is_json_integer(x) and -5 <= x <= 5 for x in inner), value


def check_small(value: Any) -> None:
    """Explicit assertions for `SMALL_SCHEMA`."""
    assert isinstance(value, dict) and set(value) == {"ok", "n"}, value
    assert isinstance(value["ok"], bool), value
    assert is_json_integer(value["n"]) and 0 <= value["n"] <= 9, value


def schema_checker(schema: dict[str, Any]) -> Callable[[Any], bool]:
    """``value -> valid?`` by the project's own instance checker (exact for these schemas)."""
    from automask.compiler.json_schema.instance_check import InstanceChecker
    from automask.compiler.json_schema.options import JsonSchemaOptions
    from automask.compiler.limits import DEFAULT_LIMITS

    checker = InstanceChecker.for_document(schema, JsonSchemaOptions(), DEFAULT_LIMITS)
    return lambda value: checker.valid(schema, value)


def validate_json(text: str, schema: dict[str, Any], check: Callable[[Any], None]) -> Any:
    """Parse ``text``, run the explicit ``check`` and the instance checker; the value."""
    value = json.loads(text)
    check(value)
    assert schema_checker(schema)(value), (text, value)
    return value


def is_arithmetic(text: str) -> bool:
    """An independent recogniser of ``grammars/arithmetic.gbnf`` (recursive descent):

        expr ::= term (ws [-+] ws term)*      term ::= factor (ws [*/] ws factor)*
        factor ::= number | "-" factor | "(" ws expr ws ")"
        number ::= [0-9]+ ("." [0-9]+)?       ws ::= [ ]*

    Unary minus runs are consumed in a loop (random models produce hundreds of them).  Each
    helper takes a position and returns the position after what it read, or -1.
    """

    def is_digit(at: int) -> bool:
        return at < len(text) and "0" <= text[at] <= "9"

    def spaces(at: int) -> int:
        while at < len(text) and text[at] == " ":
            at += 1
        return at

    def digits(at: int) -> int:
        start = at
        while is_digit(at):
            at += 1
        return at if at > start else -1

    def factor(at: int) -> int:
        while at < len(text) and text[at] == "-":
            at += 1
        if at < len(text) and text[at] == "(":
            at = expr(spaces(at + 1))
            if at < 0:
                return -1
            at = spaces(at)
            return at + 1 if at < len(text) and text[at] == ")" else -1
        at = digits(at)
        if at >= 0 and at < len(text) and text[at] == "." and is_digit(at + 1):
            at = digits(at + 1)
        return at

    def chain(at: int, operand: Callable[[int], int], operators: str) -> int:
        at = operand(at)
        while at >= 0:
            look = spaces(at)
            if look < len(text) and text[look] in operators:
                at = operand(spaces(look + 1))
            else:
                break
        return at

    def term(at: int) -> int:
        return chain(at, factor, "*/")

    def expr(at: int) -> int:
        return chain(at, term, "+-")

    return expr(0) == len(text)


# -- the end-to-end run ------------------------------------------------------------------------
def compile_constraints(vocab: Any) -> dict[str, Any]:
    """The compiled constraints of the check: JSON Schemas with compact whitespace (so that the
    output length is bounded), `PERSON_SCHEMA` on the back-end ``"auto"`` picks (the regular
    one, as the schema is bounded) and `SMALL_SCHEMA` on the CFG engine, the bundled
    arithmetic grammar (CFG engine) and `TEXT_REGEX`."""
    from automask.grammars import load_bundled

    return {
        "person": automask.compile_json_schema(PERSON_SCHEMA, vocab, whitespace="compact"),
        "small": automask.compile_json_schema(SMALL_SCHEMA, vocab, whitespace="compact", backend="cfg"),
        "arithmetic": automask.compile_grammar(load_bundled("arithmetic.gbnf"), vocab, syntax="gbnf"),
        "regex": automask.compile_regex(TEXT_REGEX, vocab),
    }


def run_checks(model: Any, tokenizer: Any, grammars: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps 1 and 2 of the module docstring; one record per check (``ok``, details)."""
    records: list[dict[str, Any]] = []
    pad = tokenizer.pad_token_id

    def record(name: str, run: Callable[[], dict[str, Any]]) -> None:
        started = time.perf_counter()
        try:
            details = run()
            ok, error = True, None
        except Exception as exc:  # a failed check is reported, the others still run
            details, ok, error = {}, False, f"{type(exc).__name__}: {exc}"
        records.append(
            {
                "check": name,
                "ok": ok,
                "seconds": round(time.perf_counter() - started, 3),
                "error": error,
                **details,
            }
        )

    def schema_rows() -> dict[str, Any]:
        texts: list[str | None] = []
        for seed in (0, 1):
            rows, processor = constrained_generate(
                model, tokenizer, grammars["person"], PROMPTS, seed=seed, max_new_tokens=192
            )
            for row_index, row in enumerate(rows):
                text = finished_text(grammars["person"], row, pad_token_id=pad, ends_when_complete=True)
                if text is not None:
                    validate_json(text, PERSON_SCHEMA, check_person)
                    # The processor consumed every token before EOS (the last row's EOS is
                    # sampled after its last call, so that one may be missing).
                    end = next(i for i, t in enumerate(row) if t in grammars["person"].vocab.eos_ids)
                    assert processor.generated_tokens(row_index) in (end, end + 1), "processor out of step"
                else:
                    assert len(row) == 192, "a row without EOS must have used the whole budget"
                texts.append(text)
        finished = [t for t in texts if t is not None]
        assert finished, "no row finished within 192 tokens"
        return {"rows": len(texts), "finished": len(finished), "examples": finished[:3]}

    def grammar_rows() -> dict[str, Any]:
        texts: list[str | None] = []
        for seed in (0, 1):
            rows, _ = constrained_generate(
                model,
                tokenizer,
                grammars["arithmetic"],
                PROMPTS,
                seed=seed,
                max_new_tokens=64,
                eos_bias=GRAMMAR_EOS_BIAS,
            )
            for row in rows:
                text = finished_text(grammars["arithmetic"], row, pad_token_id=pad)
                if text is not None:
                    assert is_arithmetic(text), text
                else:
                    assert len(row) == 64, "a row without EOS must have used the whole budget"
                texts.append(text)
        finished = [t for t in texts if t is not None]
        assert finished, "no row finished within 64 tokens"
        return {"rows": len(texts), "finished": len(finished), "examples": [t[:80] for t in finished[:3]]}

    def helper() -> dict[str, Any]:
        torch.manual_seed(3)
        result = generate_with_stats(
            model,
            tokenizer,
            PROMPTS[0],
            grammar=grammars["person"],
            max_new_tokens=192,
            do_sample=True,
            top_k=0,
        )
        if result.complete:
            validate_json(result.text, PERSON_SCHEMA, check_person)
        return {"complete": result.complete, "text": result.text, "tokens": result.num_generated}

    def samplers() -> dict[str, Any]:
        small = grammars["small"]
        rng = np.random.default_rng(0)
        prompt = "Answer in JSON."
        out: dict[str, list[str]] = {}
        out["masked"] = automask.MaskedSampler(model, tokenizer, small).sample(
            prompt, n=3, max_tokens=48, generator=rng
        )
        out["asap"] = automask.ASAp(model, tokenizer, small).sample(prompt, n=3, max_tokens=48, generator=rng)
        for proposal in ("awrs", "mask"):
            result = automask.SMC(model, tokenizer, small, particles=3, proposal=proposal).run(
                prompt, max_tokens=48, generator=rng
            )
            assert any(result.complete) and math.isfinite(result.log_z), result
            out[f"smc-{proposal}"] = [t for t, ok in zip(result.samples, result.complete, strict=True) if ok]
        for texts in out.values():
            for text in texts:
                validate_json(text, SMALL_SCHEMA, check_small)
        assert all(out.values()), out
        return {"samples": out}

    def kv_caches() -> dict[str, Any]:
        vocab_size = grammars["small"].vocab.size
        cached = HFNextTokenModel(model, tokenizer, vocab_size)
        plain = HFNextTokenModel(model, tokenizer, vocab_size, prompt_cache=False)
        prompt_ids = cached.encode_prompt("Count to three.")
        worst = 0.0
        for continuations in KV_CACHE_CALLS:
            a = cached.next_token_logprobs(prompt_ids, continuations)
            b = plain.next_token_logprobs(prompt_ids, continuations)
            worst = max(worst, float(np.abs(a - b).max()))
        assert worst < 1e-3, worst
        return {
            "max_abs_difference": worst,
            "cache_keyword": cached.cache_keyword,
            "device": str(cached.device),
        }

    record("generate, JSON Schema, batch of 3, 2 seeds", schema_rows)
    record("generate, arithmetic.gbnf, batch of 3, 2 seeds", grammar_rows)
    record("automask generate_with_stats helper", helper)
    record("KV caches match recomputation", kv_caches)
    record("MaskedSampler, ASAp, SMC (AWRS and mask)", samplers)
    return records


# -- timings -----------------------------------------------------------------------------------
def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously; a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """Mean / p50 / p99 in microseconds, and the count."""
    us = np.asarray(seconds, dtype=np.float64) * 1e6
    return {
        "n": int(us.size),
        "mean_us": round(float(us.mean()), 2),
        "p50_us": round(float(np.percentile(us, 50)), 2),
        "p99_us": round(float(np.percentile(us, 99)), 2),
    }


def time_mask_fills(grammar: Any, rows: Sequence[Sequence[int]]) -> dict[str, float]:
    """CPU time of ``fill_next_token_bitmask`` at every state along ``rows`` (generated ids),
    replayed on fresh matchers of ``grammar``.  On a newly compiled grammar the first replay
    computes every mask; a second replay hits the grammar's caches."""
    bitmask = allocate_token_bitmask(1, grammar.vocab.size)
    times: list[float] = []
    for row in rows:
        matcher = grammar.matcher()
        for token in row:
            started = time.perf_counter()
            matcher.fill_next_token_bitmask(bitmask, 0)
            times.append(time.perf_counter() - started)
            if token in grammar.vocab.eos_ids or not matcher.consume_token(token):
                break
    return summary(times)


def time_mask_apply(grammar: Any, device: torch.device, batch: int, *, repeats: int = 200) -> dict[str, Any]:
    """Time of `apply_token_bitmask_inplace` on ``[batch, V]`` float32 logits on ``device``:
    with the bitmask in host memory (copied over each call, as the LogitsProcessor does) and
    already on the device.  Synchronised around each call, so each time is the call's latency."""
    vocab_size = grammar.vocab.size
    bitmask = allocate_token_bitmask(batch, vocab_size)
    matcher = grammar.matcher()
    for row in range(batch):
        matcher.fill_next_token_bitmask(bitmask, row)
    logits = torch.randn(batch, vocab_size, device=device)
    on_device = bitmask.to(device)
    out: dict[str, Any] = {
        "batch": batch,
        "mask": grammar.source,
        "allowed": len(matcher.allowed_token_ids()),
    }

    def torch_path(logits: Any, mask: Any) -> None:  # what the Triton kernel replaces, for comparison
        logits.masked_fill_(~_allowed_columns(mask, logits.shape[-1], logits.device), float("-inf"))

    variants = [
        ("host_bitmask", bitmask, apply_token_bitmask_inplace),
        ("device_bitmask", on_device, apply_token_bitmask_inplace),
        ("device_bitmask_torch_path", on_device, torch_path),
    ]
    for name, mask, apply in variants:
        for _ in range(10):  # warm-up (kernel selection, allocator)
            apply(logits, mask)
        times = []
        for _ in range(repeats):
            synchronize(device)
            started = time.perf_counter()
            apply(logits, mask)
            synchronize(device)
            times.append(time.perf_counter() - started)
        out[name] = summary(times)
    return out


def time_generate(
    model: Any, tokenizer: Any, grammar: Any | None, *, batch: int, steps: int, repeats: int = 3
) -> dict[str, Any]:
    """Tokens/s of ``model.generate`` (sampling) over exactly ``steps`` new tokens per row
    (``min_new_tokens`` holds EOS back), with ``grammar``'s LogitsProcessor or without one.
    The grammar must never force EOS (the regex and arithmetic outputs can always go on).
    Fastest of ``repeats`` after one warm-up run; each run samples a new sequence, so a
    grammar's masks are partly new each time."""
    inputs = left_padded_inputs(tokenizer, [PROMPTS[i % len(PROMPTS)] for i in range(batch)], model.device)
    best: dict[str, Any] | None = None
    for attempt in range(repeats + 1):
        processors, processor = logits_processors(grammar, tokenizer)
        torch.manual_seed(attempt)
        synchronize(model.device)
        started = time.perf_counter()
        output = sample(model, tokenizer, inputs, processors, min_new_tokens=steps, max_new_tokens=steps)
        synchronize(model.device)
        seconds = time.perf_counter() - started
        generated = output.shape[1] - inputs["input_ids"].shape[1]
        run = {
            "batch": batch,
            "steps": generated,
            "seconds": round(seconds, 4),
            "tokens_per_second": round(batch * generated / seconds, 1),
            "ms_per_step": round(1e3 * seconds / generated, 3),
        }
        if processor is not None:
            steps_masked = max(processor.num_steps, 1)
            run["processor_mask_us_per_step"] = round(1e6 * processor.mask_seconds / steps_masked, 1)
            run["processor_consume_us_per_step"] = round(1e6 * processor.consume_seconds / steps_masked, 1)
        if attempt > 0 and (best is None or run["seconds"] < best["seconds"]):
            best = run
    assert best is not None
    return best


def run_timings(
    model: Any, tokenizer: Any, grammars: dict[str, Any], *, batch: int, steps: int
) -> dict[str, Any]:
    """Step 3 of the module docstring."""
    device = model.device
    rows: dict[str, list[list[int]]] = {}
    rows["person"], _ = constrained_generate(
        model, tokenizer, grammars["person"], PROMPTS, seed=5, max_new_tokens=192
    )
    rows["arithmetic"], _ = constrained_generate(
        model,
        tokenizer,
        grammars["arithmetic"],
        PROMPTS,
        seed=5,
        max_new_tokens=64,
        eos_bias=GRAMMAR_EOS_BIAS,
    )
    fresh = compile_constraints(grammars["person"].vocab)  # new grammars: their mask caches are empty
    fills: dict[str, Any] = {}
    for name, generated in rows.items():
        first = time_mask_fills(fresh[name], generated)
        fills[name] = {"first_pass": first, "second_pass": time_mask_fills(fresh[name], generated)}
    generate_runs = {"unconstrained": time_generate(model, tokenizer, None, batch=batch, steps=steps)}
    for label, name in ((f"regex {TEXT_REGEX}", "regex"), ("arithmetic.gbnf", "arithmetic")):
        generate_runs[label] = time_generate(model, tokenizer, grammars[name], batch=batch, steps=steps)
    return {
        "mask_fill_cpu": fills,
        "mask_apply_device": [
            time_mask_apply(grammars[name], device, b)
            for name in ("arithmetic", "regex")
            for b in sorted({1, batch})
        ],
        "generate": generate_runs,
    }


# -- report ------------------------------------------------------------------------------------
def environment(model: Any) -> dict[str, Any]:
    """Versions, the device, and where ``automask`` was imported from (the installed wheel on
    the GPU machine, not the repository's ``automask/`` folder)."""
    import numba
    import tokenizers

    import automask.runtime

    device = model.device
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "automask": automask.__version__,
        "automask_file": automask.__file__,
        "automask_runtime_file": automask.runtime.__file__,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine(),
        "model_dtype": str(model.dtype),
        "model_parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
        "cache_keyword": cache_keyword(model),
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a short markdown page."""
    env = report["environment"]
    lines = [
        "# automask GPU check",
        "",
        f"Device: **{env['device']}** ({env['device_name']}), model dtype {env['model_dtype']}, "
        f"random tiny Llama ({env['model_parameters']:,} parameters) with the real SmolLM2 vocabulary.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | `{v}` |" for k, v in env.items()),
        "",
        "## Checks",
        "",
        "| check | ok | seconds | details |",
        "|---|---|---:|---|",
    ]
    for rec in report["checks"]:
        details = json.dumps({k: v for k, v in rec.items() if k not in ("check", "ok", "seconds")})
        ok = "yes" if rec["ok"] else "**NO**"
        lines.append(f"| {rec['check']} | {ok} | {rec['seconds']} | `{details[:300]}` |")
    timings = report.get("timings")
    if timings:
        lines += [
            "",
            "## Timings",
            "",
            "Mask fill on the CPU (`fill_next_token_bitmask`, one row), replaying generated rows on a newly "
            "compiled grammar (first pass: every mask new; second pass: cached):",
            "",
            "| constraint | pass | fills | mean µs | p50 µs | p99 µs |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for name, passes in timings["mask_fill_cpu"].items():
            for which, s in passes.items():
                lines.append(
                    f"| {name} | {which} | {s['n']} | {s['mean_us']} | {s['p50_us']} | {s['p99_us']} |"
                )
        lines += [
            "",
            f"Applying the mask to float32 logits on {env['device']} (`apply_token_bitmask_inplace`, "
            "synchronised around each call):",
            "",
            "| first mask of | allowed tokens | batch | bitmask | mean µs | p50 µs | p99 µs |",
            "|---|---:|---:|---|---:|---:|---:|",
        ]
        for entry in timings["mask_apply_device"]:
            for where in ("host_bitmask", "device_bitmask", "device_bitmask_torch_path"):
                s = entry[where]
                lines.append(
                    f"| `{entry['mask']}` | {entry['allowed']} | {entry['batch']} | {where} "
                    f"| {s['mean_us']} | {s['p50_us']} | {s['p99_us']} |"
                )
        lines += [
            "",
            "`model.generate`, sampling, same model, batch and number of steps (fastest of 3):",
            "",
            "| run | batch | steps | tokens/s | ms/step | processor mask µs/step | consume µs/step |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, g in timings["generate"].items():
            mask = g.get("processor_mask_us_per_step", "")
            consume = g.get("processor_consume_us_per_step", "")
            lines.append(
                f"| {name} | {g['batch']} | {g['steps']} | {g['tokens_per_second']} | {g['ms_per_step']} "
                f"| {mask} | {consume} |"
            )
    phases = ", ".join(f"{k} {v} s" for k, v in report["phase_seconds"].items())
    lines += ["", f"Total: {report['seconds']} s ({phases}); all checks passed: **{report['ok']}**.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for gpu_check.md and gpu_check.json")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--batch", type=int, default=4, help="batch of the tokens/s runs")
    parser.add_argument("--steps", type=int, default=64, help="new tokens per row in the tokens/s runs")
    parser.add_argument("--no-timings", action="store_true", help="only the checks")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch CPU threads (default: 1 with --device cpu, where small forwards on a busy machine "
        "run far slower on several threads; torch's own default with --device cuda)",
    )
    args = parser.parse_args(argv)
    threads = args.torch_threads or (1 if args.device == "cpu" else None)
    if threads:
        torch.set_num_threads(threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda, but torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    phases: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - since, 2)
        print(f"[gpu_check] {name}: {phases[name]} s", flush=True)
        return now

    vocab = automask.load_vocabulary("smollm2")
    tokenizer = automask.load_tokenizer("smollm2")
    model = tiny_llama(vocab.size, device=args.device, dtype=getattr(torch, args.dtype))
    report: dict[str, Any] = {"environment": environment(model), "phase_seconds": phases}
    print(json.dumps(report["environment"], indent=1), flush=True)
    mark = phase("load", started)
    grammars = compile_constraints(vocab)
    mark = phase("compile", mark)
    report["checks"] = run_checks(model, tokenizer, grammars)
    for rec in report["checks"]:
        print(
            f"{'ok  ' if rec['ok'] else 'FAIL'} {rec['check']} ({rec['seconds']} s) {rec['error'] or ''}",
            flush=True,
        )
    mark = phase("checks", mark)
    if not args.no_timings:
        report["timings"] = run_timings(model, tokenizer, grammars, batch=args.batch, steps=args.steps)
        phase("timings", mark)
    report["ok"] = all(rec["ok"] for rec in report["checks"])
    report["seconds"] = round(time.perf_counter() - started, 2)
    (args.out / "gpu_check.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    text = markdown(report)
    (args.out / "gpu_check.md").write_text(text, encoding="utf-8")
    print(text, flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
