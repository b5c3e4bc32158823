"""Build a `Vocabulary` (token id -> exact bytes) from a Hugging Face tokenizer.

The byte string of a token is what the tokenizer's *decoder* writes for it, read from the
backend tokenizer's JSON (model type, decoder, pre-tokenizer), never guessed from names:

- **byte-level BPE** (GPT-2, Llama-3, Qwen2, Tekken, SmolLM2, tiktoken conversions): a
  ``ByteLevel`` decoder or pre-tokenizer.  Each symbol stands for one byte through GPT-2's
  ``bytes_to_unicode`` table, which we invert.  As in the ``tokenizers`` decoder, a token with
  any character outside the table (an added token written as plain text) is its UTF-8.
- **SentencePiece-style** (Mistral v1/v3, Llama-2, Phi-3): a ``Metaspace`` decoder, or a
  ``Replace("▁", " ")`` / ``ByteFallback`` decoder.  ``▁`` is a space, and with byte fallback
  ``<0xXX>`` is the single byte ``0xXX``.  The decoder's final ``Strip`` of one leading space
  is *not* applied: it depends on the position in the output, not on the token.  So a
  SentencePiece encoding of ``"Hello"`` (``▁Hello``) joins to ``b" Hello"``.
- anything else with no decoder: the token text as UTF-8.  WordPiece is refused (its decoder
  drops ``##`` and inserts spaces depending on the neighbouring token).

Ids: the size is max id + 1 over the model vocabulary and the added tokens (or ``size`` when
given: larger ids are dropped); ids with no token, and llama.cpp's ``[PAD<id>]`` placeholders
(its GGUF converter fills ids missing from the original vocabulary with them, e.g. Qwen2's
151646..151935 and Phi-3's 32011..32063), get ``b""``.

Special ids: added tokens flagged special, the tokenizer's BOS/EOS/UNK/PAD ids and the model's
unknown token.  EOS ids: the tokenizer's ``eos_token_id``, any special token whose text is a
well-known end-of-turn marker (`EOS_TOKEN_TEXTS`), a ``generation_config.json`` beside the
tokenizer files, and ``extra_eos_ids``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.errors import TokenizerError

# Texts of special tokens that end a generation in common chat models.  Only tokens the
# tokenizer itself marks special are taken, so an ordinary token spelled like this never is.
EOS_TOKEN_TEXTS: frozenset[str] = frozenset(
    {
        "</s>",
        "<eos>",
        "<|endoftext|>",
        "<|end_of_text|>",
        "<|eot_id|>",
        "<|eom_id|>",
        "<|im_end|>",
        "<|end|>",
        "<end_of_turn>",
        "<|end▁of▁sentence|>",
        "<|EOT|>",
        "<|return|>",
    }
)

_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_LLAMA_CPP_PLACEHOLDER = re.compile(r"\[PAD(\d+)\]")


def gpt2_unicode_to_byte() -> dict[str, int]:
    """Inverse of GPT-2's ``bytes_to_unicode``: the printable symbol that stands for each byte."""
    printable = list(range(ord("!"), ord("~") + 1))
    printable += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table: dict[str, int] = {chr(b): b for b in printable}
    shifted = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + shifted)] = b
            shifted += 1
    return table


def vocabulary_from_hf(
    tokenizer: Any,
    *,
    name: str | None = None,
    size: int | None = None,
    extra_eos_ids: Iterable[int] = (),
    extra_special_ids: Iterable[int] = (),
) -> Vocabulary:
    """Token id -> bytes of a Hugging Face tokenizer (a ``PreTrainedTokenizer[Fast]`` or a
    ``tokenizers.Tokenizer``); see the module docstring for the rules.

    ``size`` truncates (or pads with ``b""``) to a known vocabulary size; ``extra_eos_ids`` and
    ``extra_special_ids`` add ids the tokenizer files do not mark (e.g. a model's end-of-turn
    token from its generation config).
    """
    spec = _backend_json(tokenizer)
    model = spec.get("model") or {}
    family = _family(spec)

    texts: dict[int, str] = dict(_model_vocab(model))
    special: set[int] = set(int(i) for i in extra_special_ids)
    for added in spec.get("added_tokens") or []:
        token_id, content = int(added["id"]), str(added["content"])
        texts[token_id] = content
        if added.get("special"):
            special.add(token_id)
    if not texts:
        raise TokenizerError("the tokenizer has an empty vocabulary")
    width = size if size is not None else max(texts) + 1

    unk = model.get("unk_token")
    text_to_id = {text: token_id for token_id, text in texts.items()}
    if isinstance(unk, str) and unk in text_to_id:
        special.add(text_to_id[unk])
    special.update(int(i) for i in getattr(tokenizer, "all_special_ids", None) or [] if i is not None)

    to_bytes = _token_to_bytes(family, spec)
    token_bytes = [b""] * width
    for token_id, text in texts.items():
        if token_id >= width:
            continue
        if token_id not in special and _is_llama_cpp_placeholder(text, token_id):
            continue  # llama.cpp filler for an id the original vocabulary does not have
        token_bytes[token_id] = to_bytes(text, token_id in special)

    eos = set(int(i) for i in extra_eos_ids)
    eos.update(_ids(getattr(tokenizer, "eos_token_id", None)))
    eos.update(i for i in special if texts.get(i) in EOS_TOKEN_TEXTS)
    eos.update(_generation_config_eos(tokenizer))
    eos = {i for i in eos if 0 <= i < width}
    if not eos:
        raise TokenizerError(
            f"tokenizer {name or _source_name(tokenizer)!r} names no end-of-sequence token; "
            "pass extra_eos_ids=[...]"
        )
    special = {i for i in special if 0 <= i < width}
    return Vocabulary(token_bytes, special_ids=special, eos_ids=eos, name=name or _source_name(tokenizer))


# -- reading the backend tokenizer -----------------------------------------------------------


def _backend_json(tokenizer: Any) -> dict[str, Any]:
    """The ``tokenizer.json`` document of a fast tokenizer (slow ones are converted first)."""
    backend = tokenizer if hasattr(tokenizer, "to_str") else getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        try:
            from transformers.convert_slow_tokenizer import convert_slow_tokenizer

            backend = convert_slow_tokenizer(tokenizer)
        except Exception as exc:  # the converters raise many types
            raise TokenizerError(
                f"cannot read tokenizer {type(tokenizer).__name__}: it has no fast backend and "
                f"converting it failed ({exc}); load it with use_fast=True"
            ) from exc
    return json.loads(backend.to_str())


def _model_vocab(model: dict[str, Any]) -> Iterator[tuple[int, str]]:
    vocab = model.get("vocab")
    model_type = model.get("type")
    if model_type == "WordPiece":
        raise TokenizerError(
            "WordPiece tokenizers are not supported: their decoder strips '##' and inserts spaces "
            "depending on the neighbouring token, so a token has no context-free bytes"
        )
    if isinstance(vocab, dict):
        for text, token_id in vocab.items():
            yield int(token_id), text
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...] in id order
        for token_id, entry in enumerate(vocab):
            yield token_id, entry[0]
    else:
        raise TokenizerError(f"unsupported tokenizer model {model_type!r} (no vocabulary)")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every component of a (possibly nested ``Sequence``) decoder/normalizer/pre-tokenizer."""
    if isinstance(node, dict):
        yield node
        for key in ("decoders", "pretokenizers", "normalizers"):
            for child in node.get(key) or []:
                yield from _walk(child)


def _family(spec: dict[str, Any]) -> str:
    decoder = list(_walk(spec.get("decoder")))
    pre = list(_walk(spec.get("pre_tokenizer")))
    kinds = {d.get("type") for d in decoder}
    if "ByteLevel" in kinds or (not decoder and any(p.get("type") == "ByteLevel" for p in pre)):
        return "byte_level"
    if "WordPiece" in kinds:
        raise TokenizerError("WordPiece decoders are not supported (context-dependent spacing)")
    if kinds & {"Metaspace", "ByteFallback", "Replace"} or (spec.get("model") or {}).get("byte_fallback"):
        return "sentencepiece"
    if not decoder:
        return "plain"
    raise TokenizerError(f"unsupported tokenizer decoder {sorted(k for k in kinds if k)}")


def _token_to_bytes(family: str, spec: dict[str, Any]):
    """A function ``(token text, is_special) -> bytes`` for the tokenizer's family."""
    if family == "byte_level":
        table = gpt2_unicode_to_byte()

        def byte_level(text: str, is_special: bool) -> bytes:
            if is_special or any(c not in table for c in text):
                return text.encode("utf-8")
            return bytes(table[c] for c in text)

        return byte_level

    if family == "sentencepiece":
        replacements = _space_replacements(spec)
        byte_fallback = bool((spec.get("model") or {}).get("byte_fallback")) or any(
            d.get("type") == "ByteFallback" for d in _walk(spec.get("decoder"))
        )

        def sentencepiece(text: str, is_special: bool) -> bytes:
            if is_special:
                return text.encode("utf-8")
            if byte_fallback and (m := _BYTE_FALLBACK.fullmatch(text)):
                return bytes([int(m.group(1), 16)])
            for old, new in replacements:
                text = text.replace(old, new)
            return text.encode("utf-8")

        return sentencepiece

    return lambda text, is_special: text.encode("utf-8")


def _space_replacements(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The decoder's ``▁`` -> space rewrites (``Metaspace`` or ``Replace`` with a string pattern)."""
    found: list[tuple[str, str]] = []
    for d in _walk(spec.get("decoder")):
        if d.get("type") == "Metaspace":
            found.append((d.get("replacement", "▁"), " "))
        elif d.get("type") == "Replace":
            pattern = d.get("pattern") or {}
            if "String" in pattern:
                found.append((pattern["String"], d.get("content", "")))
            else:
                raise TokenizerError(f"unsupported regex Replace in the decoder: {pattern}")
    return found or [("▁", " ")]


def _is_llama_cpp_placeholder(text: str, token_id: int) -> bool:
    match = _LLAMA_CPP_PLACEHOLDER.fullmatch(text)
    return match is not None and int(match.group(1)) == token_id


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value if v is not None]


def _generation_config_eos(tokenizer: Any) -> list[int]:
    """``eos_token_id`` of a ``generation_config.json`` next to the tokenizer files, if any."""
    source = getattr(tokenizer, "name_or_path", None)
    if not source:
        return []
    path = Path(source)
    path = path if path.is_dir() else path.parent
    config = path / "generation_config.json"
    if not config.is_file():
        return []
    try:
        return _ids(json.loads(config.read_text(encoding="utf-8")).get("eos_token_id"))
    except (OSError, ValueError, TypeError):
        return []


def _source_name(tokenizer: Any) -> str:
    source = getattr(tokenizer, "name_or_path", None)
    return Path(str(source)).name if source else type(tokenizer).__name__
