"""Hugging Face transformers integration: a batched `LogitsProcessor` and a `generate` helper.

`LogitsProcessor` plugs a compiled constraint into ``model.generate``::

    grammar = automask.compile_regex(r"\\d{4}-\\d{2}-\\d{2}", automask.Vocabulary.from_hf(tokenizer))
    processor = automask.LogitsProcessor(grammar)
    model.generate(**inputs, logits_processor=[processor], eos_token_id=sorted(grammar.vocab.eos_ids))

Per decoding step it consumes each row's newly generated token into that row's matcher, fills
one preallocated int32 bitmask ``[batch, ceil(V/32)]`` and applies it to the logits in place.
Transformers runs custom logits processors before its sampling warpers (temperature, top-k,
top-p), so those only ever see allowed tokens.

Models on a CUDA device work unchanged: the bitmask is filled on the CPU (the matchers are
host code), and only its int32 words cross to the device, where they are unpacked and applied
to the logits (`automask.runtime.bitmask.apply_token_bitmask_inplace`); `generate` puts the
prompt's tensors on the model's device.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import transformers

from automask.errors import ConstraintViolation, GenerationIncomplete
from automask.runtime.bitmask import allocate_token_bitmask, apply_token_bitmask_inplace, token_ids_to_bitmask
from automask.runtime.sampling_common import model_device

if TYPE_CHECKING:
    from automask.runtime.compiled_grammar import CompiledGrammar
    from automask.runtime.matcher import Matcher


class LogitsProcessor(transformers.LogitsProcessor):
    """Masks logits so every batch row follows its compiled constraint.

    ``grammars`` is one `CompiledGrammar` (every row uses it) or a sequence of them, one per
    prompt; with ``num_return_sequences=k`` transformers repeats each prompt ``k`` times in a
    row, so ``len(grammars)`` may be the batch size divided by ``k``.

    Protocol: the first call sees only the prompt (its length, the same for every row since
    prompts are padded to one width, is recorded); every later call consumes exactly the
    tokens added since, one per row.  Rows whose matcher consumed EOS get only EOS and the pad
    id (transformers fills finished rows with the pad id).  Logits columns past the vocabulary
    (a model's padded embedding rows) are always masked.  A processor serves one ``generate``
    call; `reset` (or a new processor) before the next.

    Timing counters (for benchmarks and the CLI): ``mask_seconds`` (fill + apply),
    ``consume_seconds``, ``num_steps`` (calls that masked logits).  On a CUDA device the
    apply step copies the bitmask to the device, and that copy may wait for the device's
    queued work (the forward that produced ``scores``), so ``mask_seconds`` can include
    part of the forward time there.
    """

    def __init__(
        self,
        grammars: CompiledGrammar | Sequence[CompiledGrammar],
        *,
        pad_token_id: int | None = None,
    ) -> None:
        self._grammars: list[CompiledGrammar] = (
            list(grammars) if isinstance(grammars, Sequence) else [grammars]
        )
        if not self._grammars:
            raise ValueError("LogitsProcessor needs at least one compiled grammar")
        vocab = self._grammars[0].vocab
        if any(g.vocab.size != vocab.size for g in self._grammars):
            raise ValueError("all grammars of one LogitsProcessor must share a vocabulary size")
        self.vocab_size = vocab.size
        self._pad_token_id = pad_token_id
        self.matchers: list[Matcher] = []
        self._prompt_length: int | None = None
        self._bitmask: torch.Tensor | None = None
        self._finished_row: torch.Tensor | None = None
        self.mask_seconds = 0.0
        self.consume_seconds = 0.0
        self.num_steps = 0

    def reset(self) -> None:
        """Forget the batch (matchers, prompt length) so the processor can serve another call."""
        self.matchers = []
        self._prompt_length = None
        self._bitmask = None
        self.mask_seconds = self.consume_seconds = 0.0
        self.num_steps = 0

    @property
    def prompt_length(self) -> int | None:
        """Width of the (padded) prompt seen on the first call; ``None`` before it."""
        return self._prompt_length

    def generated_tokens(self, row: int) -> int:
        """How many generated tokens of ``row`` the matcher has consumed."""
        return self.matchers[row].num_consumed

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._prompt_length is None:
            self._start(input_ids)
        else:
            started = time.perf_counter()
            self._consume_new_tokens(input_ids)
            self.consume_seconds += time.perf_counter() - started

        started = time.perf_counter()
        bitmask = self._bitmask
        assert bitmask is not None and self._finished_row is not None
        for row, matcher in enumerate(self.matchers):
            if matcher.is_terminated():
                bitmask[row] = self._finished_row
            else:
                matcher.fill_next_token_bitmask(bitmask, row)
        apply_token_bitmask_inplace(scores, bitmask)
        if scores.shape[-1] > self.vocab_size:  # bits past V in the last word are 0; be explicit anyway
            scores[:, self.vocab_size :] = float("-inf")
        self.mask_seconds += time.perf_counter() - started
        self.num_steps += 1
        return scores

    # -- internals ----------------------------------------------------------------------
    def _start(self, input_ids: torch.LongTensor) -> None:
        batch, width = input_ids.shape
        count = len(self._grammars)
        if batch % count != 0:
            raise ValueError(
                f"batch of {batch} rows does not divide among {count} grammars "
                "(give one grammar, or one per prompt)"
            )
        repeats = batch // count
        self.matchers = [self._grammars[row // repeats].matcher() for row in range(batch)]
        self._prompt_length = width
        self._bitmask = allocate_token_bitmask(batch, self.vocab_size)
        finished_ids = set(self._grammars[0].vocab.eos_ids)
        if self._pad_token_id is not None and 0 <= self._pad_token_id < self.vocab_size:
            finished_ids.add(self._pad_token_id)
        finished = torch.from_numpy(token_ids_to_bitmask(sorted(finished_ids), self.vocab_size))
        self._finished_row = finished

    def _consume_new_tokens(self, input_ids: torch.LongTensor) -> None:
        assert self._prompt_length is not None
        if input_ids.shape[0] != len(self.matchers):
            raise ValueError(
                f"batch size changed from {len(self.matchers)} to {input_ids.shape[0]} "
                "(beam search and batch reordering are not supported; use reset() between calls)"
            )
        generated = input_ids.shape[1] - self._prompt_length
        # One copy of the newest column to host memory: reading ``input_ids[row, -1]`` row by
        # row would synchronise with a CUDA device once per row.
        last_tokens = input_ids[:, -1].tolist()
        for row, matcher in enumerate(self.matchers):
            if matcher.is_terminated():
                continue  # finished rows are filled with pad/EOS by transformers
            done = matcher.num_consumed
            if generated - done != 1:
                raise ValueError(
                    f"row {row}: expected one new token per call, got {generated - done} "
                    "(reset() the processor before reusing it)"
                )
            token_id = int(last_tokens[row])
            if not matcher.consume_token(token_id):
                raise ConstraintViolation(
                    f"row {row}, generated token {done}: the constraint refuses token {token_id}; "
                    "was the mask applied to these logits?",
                    row=row,
                    step=done,
                    token_id=token_id,
                )


@dataclass
class GenerationResult:
    """What `generate_with_stats` produced: the text, the generated ids and how long it took.

    ``token_ids`` are the generated ids up to (excluding) EOS; ``num_generated`` counts every
    generated position, EOS included (the tokens/s numerator); ``processor`` holds the mask
    timing counters.
    """

    text: str
    token_ids: list[int]
    num_generated: int
    seconds: float
    processor: LogitsProcessor
    complete: bool
    source: str  # what was compiled, e.g. "regex: \\d+"

    @property
    def tokens_per_second(self) -> float:
        return self.num_generated / self.seconds if self.seconds > 0 else float("inf")

    @property
    def mask_microseconds_per_token(self) -> float:
        """Fill + apply time per masked step, in microseconds."""
        steps = max(self.processor.num_steps, 1)
        return 1e6 * self.processor.mask_seconds / steps


def generate(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    regex: str | None = None,
    grammar: CompiledGrammar | None = None,
    max_new_tokens: int = 64,
    chat: bool = True,
    **generate_kwargs: Any,
) -> str:
    """Generate text for ``prompt`` that fully matches ``regex`` (or the compiled ``grammar``).

    The vocabulary is read from ``tokenizer`` (`Vocabulary.from_hf`) when compiling ``regex``.
    With ``chat=True`` and a tokenizer that has a chat template, the prompt becomes one user
    turn with the assistant's turn opened.  Generation stops at EOS, which the constraint
    allows only once the output is complete; the returned text is the exact bytes of the
    generated tokens (from the vocabulary), decoded as UTF-8.  ``generate_kwargs`` go to
    ``model.generate`` (``do_sample``, ``temperature``, ``top_k``, ``streamer`` ...).

    Raises `GenerationIncomplete` if ``max_new_tokens`` ran out before a complete match.
    """
    result = generate_with_stats(
        model,
        tokenizer,
        prompt,
        regex=regex,
        grammar=grammar,
        max_new_tokens=max_new_tokens,
        chat=chat,
        **generate_kwargs,
    )
    if not result.complete:
        raise GenerationIncomplete(
            f"max_new_tokens={max_new_tokens} ran out before the output matched "
            f"{result.source!r}; generated so far: {result.text!r}",
            result.text,
        )
    return result.text


def generate_with_stats(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    regex: str | None = None,
    grammar: CompiledGrammar | None = None,
    max_new_tokens: int = 64,
    chat: bool = True,
    **generate_kwargs: Any,
) -> GenerationResult:
    """Like `generate`, but returns a `GenerationResult` (timings, ids) and does not raise
    when the output is incomplete (``result.complete`` is False then)."""
    if (regex is None) == (grammar is None):
        raise ValueError("give exactly one of regex= or grammar=")
    if grammar is None:
        from automask.api import compile_regex
        from automask.compiler.vocabulary.vocabulary import Vocabulary

        grammar = compile_regex(regex, Vocabulary.from_hf(tokenizer))
    vocab = grammar.vocab

    inputs = encode_prompt(tokenizer, prompt, chat=chat, device=model_device(model))
    eos_ids = sorted(vocab.eos_ids)
    pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos_ids[0]
    processor = LogitsProcessor(grammar, pad_token_id=pad_token_id)
    generate_kwargs.setdefault("do_sample", False)
    started = time.perf_counter()
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            logits_processor=transformers.LogitsProcessorList([processor]),
            max_new_tokens=max_new_tokens,
            eos_token_id=eos_ids,
            pad_token_id=pad_token_id,
            **generate_kwargs,
        )
    seconds = time.perf_counter() - started
    new_tokens = output[0, inputs["input_ids"].shape[1] :].tolist()
    text_tokens: list[int] = []
    for token_id in new_tokens:
        if token_id in vocab.eos_ids:
            break
        text_tokens.append(token_id)
    complete = processor.matchers[0].is_accepting()
    data = vocab.decode(text_tokens)
    text = data.decode("utf-8") if complete else data.decode("utf-8", errors="replace")
    return GenerationResult(text, text_tokens, len(new_tokens), seconds, processor, complete, grammar.source)


def encode_prompt(
    tokenizer: Any, prompt: str, *, chat: bool = True, device: torch.device | str | None = None
) -> dict[str, torch.Tensor]:
    """``{"input_ids", "attention_mask"}`` for one prompt, through the chat template when asked.

    The template already contains the special tokens, so the text is encoded with
    ``add_special_tokens=False`` then.  ``device``: where the tensors go (the model's device:
    ``model.generate`` does not move its inputs, and a CUDA model refuses CPU ids); the
    tokenizer's CPU tensors by default.
    """
    if chat and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        encoded = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    else:
        encoded = tokenizer(prompt, return_tensors="pt")
    tensors = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
    if device is not None:
        tensors = {name: tensor.to(device) for name, tensor in tensors.items()}
    return tensors


__all__ = [
    "ConstraintViolation",
    "GenerationIncomplete",
    "GenerationResult",
    "LogitsProcessor",
    "encode_prompt",
    "generate",
    "generate_with_stats",
]
