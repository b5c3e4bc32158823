"""Applying an allowed-token bitmask to CUDA logits in one Triton kernel.

Why: the torch path (`bitmask._allowed_columns`, then ``masked_fill_``) unpacks the int32 words
into a ``[rows, 32 * words]`` bool tensor, pads it and fills the logits: several small kernel
launches, about 80 µs a step on an H100 whatever the vocabulary.  This kernel reads each
row's words and writes ``-inf`` over the refused columns directly, one launch over
``(rows, column blocks)``.  Same contract as `bitmask.apply_token_bitmask_inplace`: columns past
``32 * words`` are refused, and bitmask row ``i`` applies to logits row ``indices[i]`` (to row
``i`` without ``indices``: then no index tensor is built, so a step is one launch).

Used only where Triton imports and the logits are a CUDA tensor with unit column stride; the
torch path stays the reference (`tests/test_gpu.py` compares the two).
"""

from __future__ import annotations

from functools import cache
from typing import Any

BLOCK_COLUMNS = 1024


@cache
def _kernel() -> Any:
    """The compiled Triton kernel, or None where Triton is not installed (built once)."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def mask_refused_columns(
        logits_ptr,
        logits_row_stride,
        bitmask_ptr,
        bitmask_row_stride,
        rows_ptr,
        width,
        words,
        BLOCK: tl.constexpr,
        BY_INDEX: tl.constexpr,
    ):
        mask_row = tl.program_id(0)
        columns = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
        inside = columns < width
        word = columns // 32
        bits = tl.load(
            bitmask_ptr + mask_row * bitmask_row_stride + word, mask=inside & (word < words), other=0
        )
        refused = ((bits >> (columns % 32)) & 1) == 0
        logits_row = tl.load(rows_ptr + mask_row) if BY_INDEX else mask_row
        tl.store(logits_ptr + logits_row * logits_row_stride + columns, float("-inf"), mask=inside & refused)

    return mask_refused_columns


def triton_available() -> bool:
    return _kernel() is not None


def apply_on_cuda(logits: Any, bitmask: Any, indices: Any = None) -> bool:
    """Mask ``logits`` (``[batch, width]``, CUDA) in place with ``bitmask`` (``[n, words]``
    int32 tensor, any device) for the logits rows ``indices`` (``n`` of them; None: row for
    row).  False, with nothing done, where this path does not apply (no Triton, strided
    columns)."""
    kernel = _kernel()
    if kernel is None or logits.stride(-1) != 1:
        return False
    import torch

    rows = None
    if indices is not None:
        rows = torch.as_tensor(indices, device=logits.device, dtype=torch.int64)
        bitmask = bitmask[: rows.shape[0]]
    bitmask = bitmask.to(logits.device, dtype=torch.int32).contiguous()
    width = logits.shape[-1]
    grid = (bitmask.shape[0], (width + BLOCK_COLUMNS - 1) // BLOCK_COLUMNS)
    kernel[grid](
        logits,
        logits.stride(0),
        bitmask,
        bitmask.stride(0),
        bitmask if rows is None else rows,  # not read without indices
        width,
        bitmask.shape[1],
        BLOCK=BLOCK_COLUMNS,
        BY_INDEX=rows is not None,
    )
    return True
