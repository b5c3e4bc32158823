"""Vocabularies: token bytes agree with the real tokenizers, special/EOS ids, caching.

SentencePiece convention (mistral-sp, phi3): the tokenizers prepend ``▁`` to the input, so the
token bytes of an encoding of ``text`` join to ``b" " + text``; the decoder strips that one
leading space again, which depends on position and so is not part of any token's bytes.
Byte-level vocabularies (llama3, qwen2, gpt2, tekken, smollm2) join back to exactly ``text``.
"""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from automask.compiler.vocabulary import artifacts
from automask.compiler.vocabulary.artifacts import Artifact, artifact_file
from automask.compiler.vocabulary.builtin import (
    BUILTIN_NAMES,
    BUILTINS,
    load_vocabulary,
    reference_encodings,
    vocabulary_of_builtin,
)
from automask.compiler.vocabulary.hf import gpt2_unicode_to_byte, vocabulary_from_hf
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.errors import ArtifactUnavailable, TokenizerError

SENTENCEPIECE = {"mistral-sp", "phi3"}
REFERENCE_NAMES = [b.name for b in BUILTINS if b.reference_file]
SIZES = {b.name: b.size for b in BUILTINS}

# Texts with multi-byte UTF-8 (tokens may split characters), control bytes and odd spacing.
TEXTS = [
    "Hello world",
    ' {"name": "Ünïcødé", "n": -12.5e3}\n',
    "日本語のテキスト、中文文本，한국어 텍스트",
    "emoji 🤗🦙🧑‍🚀 and ℵ₀ ≠ ∞",
    "tabs\tand\r\nnewlines\n\n\n  indented",
    "\x00\x01\x7f control bytes",
    "   leading spaces",
    "ﬁ ligature, Ǆ, ẞ, ǅ",
]


def _joined(vocab: Vocabulary, ids: list[int]) -> bytes:
    return b"".join(vocab[i] for i in ids)


def _expected_join(name: str, text: str) -> bytes:
    return (b" " if name in SENTENCEPIECE and text else b"") + text.encode("utf-8")


# -- every built-in ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_size_is_the_stated_one(name, vocabularies):
    assert vocabularies(name).size == SIZES[name]


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_encodings_join_back_to_the_text(name, vocabularies, tokenizers):
    vocab, tok = vocabularies(name), tokenizers(name)
    for text in TEXTS:
        ids = tok.encode(text, add_special_tokens=False, split_special_tokens=True)
        assert not set(ids) & vocab.special_ids, text
        assert _joined(vocab, ids) == _expected_join(name, text), text


def _regular_utf8_ids(vocab: Vocabulary, ids) -> list[int]:
    chosen = []
    for i in ids:
        if vocab.is_regular(i):
            try:
                vocab[i].decode("utf-8")
            except UnicodeDecodeError:
                continue
            chosen.append(i)
    return chosen


def _assert_bytes_match_decode(vocab: Vocabulary, tok, ids: list[int]) -> None:
    """Decode each id after an anchor token, so SentencePiece's leading-space strip hits the anchor."""
    anchor = tok.convert_tokens_to_ids(tok.tokenize("a")[-1])
    prefix = tok.decode([anchor], clean_up_tokenization_spaces=False)
    decoded = tok.batch_decode([[anchor, i] for i in ids], clean_up_tokenization_spaces=False)
    mismatches = [
        (i, vocab[i], text)
        for i, text in zip(ids, decoded, strict=True)
        if text != prefix + vocab[i].decode()
    ]
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_sampled_token_bytes_agree_with_decode(name, vocabularies, tokenizers):
    vocab, tok = vocabularies(name), tokenizers(name)
    ids = _regular_utf8_ids(vocab, range(0, vocab.size, 37))
    assert len(ids) > vocab.size // 37 // 2
    _assert_bytes_match_decode(vocab, tok, ids)


@pytest.mark.parametrize("name", ["mistral-sp", "gpt2"])
def test_all_token_bytes_agree_with_decode(name, vocabularies, tokenizers):
    vocab, tok = vocabularies(name), tokenizers(name)
    _assert_bytes_match_decode(vocab, tok, _regular_utf8_ids(vocab, range(vocab.size)))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["llama3", "qwen2", "tekken", "phi3", "smollm2"])
def test_all_token_bytes_agree_with_decode_exhaustive(name, vocabularies, tokenizers):
    vocab, tok = vocabularies(name), tokenizers(name)
    _assert_bytes_match_decode(vocab, tok, _regular_utf8_ids(vocab, range(vocab.size)))


@pytest.mark.parametrize("name", ["llama3", "tekken", "qwen2"])
def test_byte_level_vocabularies_have_partial_utf8_tokens_that_join_correctly(name, vocabularies, tokenizers):
    vocab, tok = vocabularies(name), tokenizers(name)
    partial = [i for i in range(vocab.size) if vocab.is_regular(i) and not _is_utf8(vocab[i])]
    assert len(partial) > 100  # the multi-byte-split tokens every mask must handle
    text = "🧑‍🚀🦙 Größe 北京 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"
    ids = tok.encode(text, add_special_tokens=False)
    assert any(not _is_utf8(vocab[i]) for i in ids)
    assert _joined(vocab, ids) == text.encode()


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- llama.cpp reference encodings -------------------------------------------------------------


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_reference_encodings_match_and_join_back(name, vocabularies, tokenizers):
    vocab, tok = vocabularies(name), tokenizers(name)
    cases = reference_encodings(name)
    assert len(cases) > 30
    for text, expected_ids in cases:
        assert tok.encode(text, add_special_tokens=False) == expected_ids, text
        assert _joined(vocab, expected_ids) == _expected_join(name, text), text


# -- special and end-of-sequence ids ------------------------------------------------------------

EXPECTED_EOS = {
    "llama3": ["<|end_of_text|>", "<|eot_id|>"],
    "qwen2": ["<|endoftext|>", "<|im_end|>"],
    "gpt2": ["<|endoftext|>"],
    "phi3": ["<|endoftext|>", "<|end|>"],
    "mistral-sp": ["</s>"],
    "tekken": ["</s>"],
    "smollm2": ["<|endoftext|>", "<|im_end|>"],
}
EXPECTED_SPECIAL = {
    "llama3": ["<|begin_of_text|>", "<|start_header_id|>", "<|reserved_special_token_0|>"],
    "qwen2": ["<|im_start|>"],
    "gpt2": [],
    "phi3": ["<s>", "<unk>", "<|user|>", "<|assistant|>"],
    "mistral-sp": ["<s>", "<unk>", "[INST]", "[/INST]", "[TOOL_CALLS]"],
    "tekken": ["<s>", "[INST]", "[/INST]"],
    "smollm2": ["<|im_start|>"],
}


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_eos_and_special_ids(name, vocabularies, tokenizers):
    vocab, tok = vocabularies(name), tokenizers(name)
    ids = tok.get_vocab()
    assert {ids[t] for t in EXPECTED_EOS[name]} <= vocab.eos_ids
    assert {ids[t] for t in EXPECTED_SPECIAL[name]} <= vocab.special_ids - vocab.eos_ids
    assert tok.eos_token_id in vocab.eos_ids
    assert all(not vocab.is_regular(i) for i in vocab.special_ids)


def test_tekken_control_ids_are_the_first_thousand(vocab_tekken):
    assert vocab_tekken.special_ids == frozenset(range(1000))
    assert vocab_tekken.is_regular(1000)


def test_qwen2_padding_ids_have_no_bytes(vocab_qwen2):
    assert all(vocab_qwen2[i] == b"" for i in range(151646, 151936))
    assert vocab_qwen2[151645] and vocab_qwen2.is_regular(151642)


@pytest.mark.parametrize("name", sorted(SENTENCEPIECE))
def test_byte_fallback_tokens_are_one_byte(name, vocabularies, tokenizers):
    vocab, ids = vocabularies(name), tokenizers(name).get_vocab()
    for byte in range(256):
        token_id = ids[f"<0x{byte:02X}>"]
        assert vocab[token_id] == bytes([byte])
        assert vocab.is_regular(token_id)


def test_sentencepiece_word_boundary_is_a_space(vocab_mistral_sp, tok_mistral_sp):
    assert vocab_mistral_sp[tok_mistral_sp.get_vocab()["▁the"]] == b" the"


# -- cache and loaders ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["llama3", "mistral-sp"])
def test_cached_vocabulary_equals_a_fresh_conversion(name, vocabularies, tokenizers, tmp_path):
    cached = vocabularies(name)
    fresh = vocabulary_of_builtin(next(b for b in BUILTINS if b.name == name), tokenizers(name))
    assert fresh.fingerprint() == cached.fingerprint()
    cached.save(tmp_path / "v.npz")
    reloaded = Vocabulary.load(tmp_path / "v.npz")
    assert reloaded.fingerprint() == cached.fingerprint()
    assert reloaded.token_bytes == cached.token_bytes and reloaded.name == name


def test_llama3_keeps_ignore_merges_through_the_tokenizer_cache(tok_llama3):
    assert tok_llama3.backend_tokenizer.model.ignore_merges is True
    assert len(tok_llama3) == 128_257  # the GGUF converter's extra <|endoftext|>, cut by the vocabulary


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(TokenizerError) as info:
        load_vocabulary("no-such-vocabulary")
    assert all(name in str(info.value) for name in BUILTIN_NAMES)


def test_a_folder_without_tokenizer_files_is_a_tokenizer_error(tmp_path):
    with pytest.raises(TokenizerError, match="cannot load a tokenizer"):
        load_vocabulary(str(tmp_path))


def test_tokenizer_directory_and_gguf_paths_load(vocabularies, tokenizers, tmp_path):
    tokenizers("gpt2").save_pretrained(tmp_path / "gpt2")
    from_dir = load_vocabulary(str(tmp_path / "gpt2"))
    assert from_dir.fingerprint() == vocabularies("gpt2").fingerprint()
    gguf = artifact_file(artifacts.LLAMA_CPP_SDIST, "vendor/llama.cpp/models/ggml-vocab-phi-3.gguf")
    from_gguf = load_vocabulary(gguf)
    assert from_gguf.token_bytes == vocabularies("phi3").token_bytes


# -- the Hugging Face adapter on small hand-built tokenizers ----------------------------------------


def _byte_level_tokenizer() -> Tokenizer:
    to_unicode = {b: c for c, b in gpt2_unicode_to_byte().items()}
    symbols = [to_unicode[b] for b in range(256)]
    vocab = {s: i for i, s in enumerate(symbols)} | {to_unicode[0x20] + "a": 256}
    tok = Tokenizer(models.BPE(vocab, [(to_unicode[0x20], "a")]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|eot|>", "<|endoftext|>"])
    tok.add_tokens(["<note>"])
    return tok


def test_byte_level_adapter_inverts_the_gpt2_byte_map():
    tok = _byte_level_tokenizer()
    vocab = vocabulary_from_hf(tok, name="tiny", extra_eos_ids=[257])
    assert vocab.size == 260
    assert [vocab[b] for b in range(256)] == [bytes([b]) for b in range(256)]
    assert vocab[256] == b" a"
    assert vocab[259] == b"<note>" and vocab.is_regular(259)  # a plain added token keeps its text
    assert vocab.eos_ids == {257, 258} and vocab.special_ids == {257, 258}
    assert tok.decode([256, 259, 0xC3, 0xA9]) == vocab.decode([256, 259, 0xC3, 0xA9]).decode()


def test_sentencepiece_adapter_maps_metaspace_and_byte_fallback():
    vocab = {"<unk>": 0, "</s>": 1, "<0x0A>": 2, "<0xE2>": 3, "▁hi": 4, "▁": 5, "[PAD6]": 6}
    tok = Tokenizer(models.BPE(vocab, [], unk_token="<unk>", byte_fallback=True))
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens(["</s>"])
    result = vocabulary_from_hf(tok, size=8)
    assert result.token_bytes == (b"<unk>", b"</s>", b"\n", b"\xe2", b" hi", b" ", b"", b"")
    assert result.eos_ids == {1} and result.special_ids == {0, 1}


def test_adapter_refuses_wordpiece_and_tokenizers_without_eos():
    wordpiece = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "##b": 2}, unk_token="[UNK]"))
    with pytest.raises(TokenizerError, match="WordPiece"):
        vocabulary_from_hf(wordpiece)
    no_eos = Tokenizer(models.BPE({"a": 0}, []))
    no_eos.add_special_tokens(["<pad>"])
    with pytest.raises(TokenizerError, match="end-of-sequence"):
        vocabulary_from_hf(no_eos)


# -- artifacts ---------------------------------------------------------------------------------------


def test_artifact_members_are_extracted_from_cached_sdists_and_wheels(tmp_path, monkeypatch):
    monkeypatch.setenv(artifacts.CACHE_ENV_VAR, str(tmp_path))
    (tmp_path / "artifacts").mkdir()
    with tarfile.open(tmp_path / "artifacts" / "demo-1.0.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("demo-1.0/data/vocab.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    with zipfile.ZipFile(tmp_path / "artifacts" / "demo-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("demo_pkg/model.bin", b"\x00\x01")
    sdist = Artifact("demo==1.0", "demo-1.0.tar.gz", archive_root="demo-1.0/")
    wheel = Artifact("demo==1.0", "demo-1.0-py3-none-any.whl", package="demo_pkg_not_installed")
    assert artifact_file(sdist, "data/vocab.txt").read_bytes() == b"hello"
    assert artifact_file(wheel, "demo_pkg/model.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(ArtifactUnavailable, match="no member"):
        artifact_file(sdist, "data/missing.txt")


def test_installed_package_files_are_used_without_extracting(tmp_path, monkeypatch):
    monkeypatch.setenv(artifacts.CACHE_ENV_VAR, str(tmp_path))
    path = artifact_file(artifacts.MISTRAL_COMMON_WHEEL, "mistral_common/data/tekken_240911.json")
    assert path.is_file() and tmp_path not in path.parents


def test_failed_download_raises_artifact_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv(artifacts.CACHE_ENV_VAR, str(tmp_path))

    class Failed:
        returncode, stdout, stderr = 1, "", "ERROR: No matching distribution found for demo==9"

    monkeypatch.setattr(artifacts.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(ArtifactUnavailable, match="No matching distribution"):
        artifact_file(Artifact("demo==9", "demo-9.tar.gz", archive_root="demo-9/"), "x")


def test_derived_builders_may_derive_other_structures():
    """A builder that asks for another derived structure must not deadlock (re-entrant lock)."""
    vocab = Vocabulary([b"a", b"b", b""], special_ids=(2,), eos_ids=(2,))
    calls: list[str] = []

    def inner(v: Vocabulary) -> int:
        calls.append("inner")
        return v.size

    def outer(v: Vocabulary) -> int:
        calls.append("outer")
        return v.derived("inner", inner) + 1

    assert vocab.derived("outer", outer) == 4
    assert vocab.derived("outer", outer) == 4
    assert calls == ["outer", "inner"]
