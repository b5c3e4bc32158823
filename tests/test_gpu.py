"""automask with the model and the logits on a CUDA device (every test skipped without one).

The model is a randomly initialised two-layer Llama shaped like SmolLM2-135M, built on the
device from a config (`benchmarks.gpu_check.tiny_llama`), with the real SmolLM2 tokenizer and
vocabulary.  Constrained output is valid whatever the weights, so a random model checks the
integration honestly: masks applied to device logits, ids and caches on the device, the
processor's protocol inside ``model.generate``, stopping at EOS, and the samplers'
key/value caches; it does not check output quality.  Sized to run in well under two minutes
on a GPU; most of that is numba's first compilation (about a minute on a busy 2-core CPU).

``AUTOMASK_TEST_DEVICE=cpu`` runs the same tests on the CPU (to check the tests themselves
on a machine without a GPU).  How the GPU run is set up: ``benchmarks/gpu_check.md``.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

import automask
from automask.runtime.bitmask import (
    allocate_token_bitmask,
    apply_token_bitmask_inplace,
    bitmask_to_bool,
    bitmask_words,
    token_ids_to_bitmask,
)
from automask.runtime.integrations.transformers import generate_with_stats
from automask.runtime.sampling_common import HFNextTokenModel, cache_keyword
from benchmarks.gpu_check import (
    GRAMMAR_EOS_BIAS,
    KV_CACHE_CALLS,
    PERSON_SCHEMA,
    PROMPTS,
    SMALL_SCHEMA,
    check_person,
    check_small,
    compile_constraints,
    constrained_generate,
    finished_text,
    is_arithmetic,
    tiny_llama,
    validate_json,
)

_FORCED_DEVICE = os.environ.get("AUTOMASK_TEST_DEVICE")
DEVICE = torch.device(_FORCED_DEVICE or "cuda")

pytestmark = pytest.mark.skipif(
    _FORCED_DEVICE is None and not torch.cuda.is_available(),
    reason="needs a CUDA device (torch.cuda.is_available() is False); "
    "AUTOMASK_TEST_DEVICE=cpu runs these tests on the CPU",
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the tokenizer comes from automask's cache, never the hub


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread_on_the_cpu():
    """With ``AUTOMASK_TEST_DEVICE=cpu``: small forwards on a busy machine run ~10x faster on
    one thread (as in test_samplers.py); restored after the module."""
    previous = torch.get_num_threads()
    if DEVICE.type == "cpu":
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def vocab():
    return automask.load_vocabulary("smollm2")


@pytest.fixture(scope="module")
def tokenizer():
    return automask.load_tokenizer("smollm2")


@pytest.fixture(scope="module")
def grammars(vocab):
    return compile_constraints(vocab)


@pytest.fixture(scope="module")
def model(vocab):
    """float32, exactly the vocabulary's width (as SmolLM2)."""
    return tiny_llama(vocab.size, device=DEVICE)


@pytest.fixture(scope="module")
def padded_bf16_model(vocab):
    """bfloat16 with 64 padded embedding rows past the vocabulary (which must never be chosen)."""
    return tiny_llama(vocab.size, device=DEVICE, dtype=torch.bfloat16, padded_rows=64, seed=1)


# -- the bitmask on device logits --------------------------------------------------------------
def _bitmask_rows(vocab_size: int, batch: int, seed: int) -> np.ndarray:
    """``batch`` int32 rows: random words (bits past ``vocab_size`` too), a few allowed ids,
    everything allowed."""
    rng = np.random.default_rng(seed)
    words = bitmask_words(vocab_size)
    rows = [rng.integers(-(2**31), 2**31, size=words, dtype=np.int64).astype(np.int32)]
    rows.append(token_ids_to_bitmask([0, 31, 32, vocab_size - 1], vocab_size))
    rows.append(np.full(words, -1, dtype=np.int32))
    return np.stack([rows[i % len(rows)] for i in range(batch)])


def _expected_allowed(rows: np.ndarray, width: int) -> np.ndarray:
    """Bool ``[batch, width]``: the row's bit where the bitmask has one, refused past it."""
    bits = 32 * rows.shape[1]
    allowed = np.zeros((rows.shape[0], width), dtype=bool)
    for r, row in enumerate(rows):
        allowed[r, : min(width, bits)] = bitmask_to_bool(row, bits)[:width]
    return allowed


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(
    ("vocab_size", "width"),
    [(1000, 1000), (1000, 1061), (49_152, 49_152 + 128)],
    ids=["width-not-multiple-of-32", "wider-than-bitmask", "smollm2-padded"],
)
def test_bitmask_on_device_logits_matches_cpu(dtype, batch, vocab_size, width):
    rows = _bitmask_rows(vocab_size, batch, seed=batch)
    bitmask = allocate_token_bitmask(batch, vocab_size)
    bitmask.copy_(torch.from_numpy(rows))
    torch.manual_seed(0)
    cpu_logits = torch.randn(batch, width).to(dtype)
    device_logits = cpu_logits.to(DEVICE)
    original = cpu_logits.clone()

    apply_token_bitmask_inplace(cpu_logits, bitmask)
    apply_token_bitmask_inplace(device_logits, bitmask)

    assert device_logits.device.type == DEVICE.type and device_logits.dtype == dtype
    assert torch.equal(device_logits.cpu(), cpu_logits)
    allowed = torch.from_numpy(_expected_allowed(rows, width))
    assert torch.equal(torch.isneginf(cpu_logits), ~allowed)
    assert torch.equal(cpu_logits[allowed], original[allowed])


def test_bitmask_rows_by_index_and_one_dimensional_logits_on_device():
    vocab_size, width = 1000, 1024
    rows = _bitmask_rows(vocab_size, 2, seed=7)
    torch.manual_seed(1)
    cpu_logits = torch.randn(3, width)
    device_logits = cpu_logits.to(DEVICE)
    apply_token_bitmask_inplace(cpu_logits, torch.from_numpy(rows), indices=[2, 0])
    apply_token_bitmask_inplace(device_logits, torch.from_numpy(rows), indices=[2, 0])
    assert torch.equal(device_logits.cpu(), cpu_logits)
    assert not torch.isinf(cpu_logits[1]).any()  # the row no bitmask row points at is untouched

    single_cpu = torch.randn(width)
    single_device = single_cpu.to(DEVICE)
    apply_token_bitmask_inplace(single_cpu, rows[0])  # a numpy row
    apply_token_bitmask_inplace(single_device, rows[0])
    assert torch.equal(single_device.cpu(), single_cpu)


@pytest.mark.skipif(DEVICE.type != "cuda", reason="the Triton kernel runs on CUDA only")
def test_triton_kernel_matches_the_torch_path():
    """`cuda_bitmask` (one launch) against the torch unpack-and-fill path it replaces, for
    every row selection and widths below, at and past the bitmask's bits."""
    from automask.runtime.bitmask import _allowed_columns
    from automask.runtime.cuda_bitmask import apply_on_cuda, triton_available

    if not triton_available():
        pytest.skip("Triton is not installed")
    for vocab_size, width, batch, indices in [
        (1000, 1000, 3, None),
        (1000, 1100, 2, [2, 0]),
        (49_152, 49_280, 4, None),
    ]:
        rows = _bitmask_rows(vocab_size, batch, seed=vocab_size + batch)
        torch.manual_seed(batch)
        logits = torch.randn(max(batch, 3), width, device=DEVICE)
        expected = logits.clone()
        selected = list(range(batch)) if indices is None else indices
        allowed = _allowed_columns(torch.from_numpy(rows), width, DEVICE)
        for mask_row, logits_row in enumerate(selected):
            expected[logits_row].masked_fill_(~allowed[mask_row], float("-inf"))
        assert apply_on_cuda(logits, torch.from_numpy(rows), indices)
        assert torch.equal(logits, expected)


# -- model.generate with the LogitsProcessor ------------------------------------------------
@pytest.mark.parametrize("which", ["float32", "bfloat16-padded"])
def test_generate_json_schema_batch_on_device(which, model, padded_bf16_model, tokenizer, grammars):
    model = model if which == "float32" else padded_bf16_model
    assert next(model.parameters()).device.type == DEVICE.type
    grammar = grammars["person"]
    finished = 0
    for seed in (0, 1):
        rows, processor = constrained_generate(
            model, tokenizer, grammar, PROMPTS, seed=seed, max_new_tokens=192
        )
        assert processor.num_steps > 0 and len(processor.matchers) == len(PROMPTS)
        for row_index, row in enumerate(rows):
            assert all(t < grammar.vocab.size for t in row), "a padded logits column was chosen"
            text = finished_text(grammar, row, pad_token_id=tokenizer.pad_token_id, ends_when_complete=True)
            if text is None:  # ran out of tokens: still a valid prefix (checked), used the whole budget
                assert len(row) == 192
                continue
            validate_json(text, PERSON_SCHEMA, check_person)
            end = next(i for i, t in enumerate(row) if t in grammar.vocab.eos_ids)
            assert processor.generated_tokens(row_index) in (end, end + 1)
            finished += 1
    assert finished >= 1, "no row finished within 192 tokens"


def test_generate_grammar_batch_on_device(model, tokenizer, grammars):
    grammar = grammars["arithmetic"]
    finished = 0
    for seed in (0, 1):
        rows, _ = constrained_generate(
            model, tokenizer, grammar, PROMPTS, seed=seed, max_new_tokens=64, eos_bias=GRAMMAR_EOS_BIAS
        )
        for row in rows:
            text = finished_text(grammar, row, pad_token_id=tokenizer.pad_token_id)
            if text is None:
                assert len(row) == 64
                continue
            assert is_arithmetic(text), text
            finished += 1
    assert finished >= 1, "no row finished within 64 tokens"


def test_generate_helper_puts_the_prompt_on_the_device(model, tokenizer, grammars):
    torch.manual_seed(3)
    result = generate_with_stats(
        model, tokenizer, PROMPTS[0], grammar=grammars["person"], max_new_tokens=192, do_sample=True, top_k=0
    )
    assert result.processor.num_steps == result.num_generated
    if result.complete:
        validate_json(result.text, PERSON_SCHEMA, check_person)
    else:
        assert result.num_generated == 192


# -- the samplers' model adapter and the samplers ---------------------------------------------
def test_kv_caches_on_device_match_recomputation(model, tokenizer, vocab):
    """The prompt, path and batch caches against recomputing every call: catches inputs on the
    wrong device and a cache keyword the installed transformers silently ignores."""
    cached = HFNextTokenModel(model, tokenizer, vocab.size)
    plain = HFNextTokenModel(model, tokenizer, vocab.size, prompt_cache=False)
    assert cached.device.type == DEVICE.type
    assert cached.cache_keyword == cache_keyword(model)
    prompt_ids = cached.encode_prompt("Count to three.")
    for continuations in KV_CACHE_CALLS:
        rows = cached.next_token_logprobs(prompt_ids, continuations)
        assert rows.dtype == np.float64 and rows.shape == (len(continuations), vocab.size)
        np.testing.assert_allclose(rows, plain.next_token_logprobs(prompt_ids, continuations), atol=1e-3)
    assert cached.forward_tokens < plain.forward_tokens


def test_distortion_correcting_samplers_on_device(model, tokenizer, grammars):
    small = grammars["small"]
    rng = np.random.default_rng(0)
    prompt = "Answer in JSON."
    texts = automask.MaskedSampler(model, tokenizer, small).sample(prompt, n=3, max_tokens=48, generator=rng)
    asap = automask.ASAp(model, tokenizer, small)
    texts += asap.sample(prompt, n=3, max_tokens=48, generator=rng)
    assert asap.lm.device.type == DEVICE.type and 0 < asap.root_efg(prompt, 48) <= 1
    for proposal in ("awrs", "mask"):
        result = automask.SMC(model, tokenizer, small, particles=3, proposal=proposal).run(
            prompt, max_tokens=48, generator=rng
        )
        assert any(result.complete) and math.isfinite(result.log_z), result
        texts += [t for t, ok in zip(result.samples, result.complete, strict=True) if ok]
    assert len(texts) >= 8
    for text in texts:
        validate_json(text, SMALL_SCHEMA, check_small)
