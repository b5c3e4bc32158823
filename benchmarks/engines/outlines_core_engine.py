"""outlines-core adapter: `Vocabulary`, `Index` (the regex compiled against the vocabulary), `Guide`.

outlines-core's own `Vocabulary.from_pretrained` needs the model hub, so the vocabulary is
built here from the Hugging Face tokenizer: each regular token's exact bytes -> its ids (byte-
level BPE symbols mapped back to bytes; SentencePiece ``▁`` to a space and ``<0xXX>`` to one
byte).  Special tokens are left out; EOS is passed on its own, as outlines-core expects.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from benchmarks.engines.base import Engine, TokenizerSource, UnsupportedWorkload
from benchmarks.workloads.base import Workload, WorkloadKind

_BYTE_FALLBACK = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def byte_level_decoder() -> dict[str, int]:
    """Inverse of the GPT-2 byte-to-printable-character table used by byte-level BPE.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes are assigned the code
    points 256, 257, ... in byte order.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    table = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + extra)] = b
            extra += 1
    return table


def _is_byte_level(hf_tokenizer: Any) -> bool:
    decoder = json.loads(hf_tokenizer.backend_tokenizer.to_str()).get("decoder") or {}
    return "ByteLevel" in json.dumps(decoder)


def token_bytes_map(hf_tokenizer: Any) -> tuple[dict[bytes, list[int]], int]:
    """``({token bytes: [ids]}, eos id)`` for every regular token of a fast HF tokenizer."""
    special = set(hf_tokenizer.all_special_ids)
    special.update(i for i, t in hf_tokenizer.added_tokens_decoder.items() if t.special)
    byte_level = _is_byte_level(hf_tokenizer)
    decoder = byte_level_decoder() if byte_level else {}
    mapping: dict[bytes, list[int]] = {}
    for piece, token_id in hf_tokenizer.get_vocab().items():
        if token_id in special:
            continue
        if byte_level:
            data = bytes(decoder[c] for c in piece) if all(c in decoder for c in piece) else piece.encode()
        elif (m := _BYTE_FALLBACK.fullmatch(piece)) is not None:
            data = bytes([int(m.group(1), 16)])
        else:
            data = piece.replace("\u2581", " ").encode()
        if data:
            mapping.setdefault(data, []).append(token_id)
    return mapping, int(hf_tokenizer.eos_token_id)


class OutlinesCoreEngine(Engine):
    name = "outlines-core"
    requires = ("outlines_core",)
    supported_kinds = frozenset({WorkloadKind.REGEX, WorkloadKind.JSON_SCHEMA})

    def __init__(self) -> None:
        import outlines_core

        self._oc = outlines_core
        self._vocabulary: Any = None
        self._vocab_size = 0

    def version(self) -> str:
        from importlib.metadata import version

        return version("outlines-core")

    def prepare(self, source: TokenizerSource, hf_tokenizer: Any | None) -> None:
        mapping, eos_id = token_bytes_map(hf_tokenizer)
        self._vocabulary = self._oc.Vocabulary(eos_id, mapping)
        self._vocab_size = max(len(hf_tokenizer), eos_id + 1)

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    def compile(self, workload: Workload) -> Any:
        if workload.kind is WorkloadKind.REGEX:
            pattern = workload.source
        elif workload.kind is WorkloadKind.JSON_SCHEMA:
            pattern = self._oc.json_schema.build_regex_from_schema(
                workload.source, **self.json_schema_options()
            )
        else:
            raise UnsupportedWorkload(f"outlines-core has no {workload.kind.value} front-end")
        return self._oc.Index(pattern, self._vocabulary)

    def new_matcher(self, handle: Any) -> Any:
        return self._oc.Guide(handle)

    def fill_mask(self, matcher: Any, bitmask: np.ndarray) -> None:
        matcher.write_mask_into(bitmask.ctypes.data, bitmask.size, 4)

    def consume(self, matcher: Any, token_id: int) -> bool:
        try:
            matcher.advance(token_id, return_tokens=False)
        except ValueError:
            return False
        return True

    def is_accepting(self, matcher: Any) -> bool:
        return bool(matcher.is_finished())
