"""Token bitmasks: allocation, conversion, and applying a mask to logits.

Layout (the same as xgrammar and llguidance, so serving engines can swap automask in):
an int32 array ``[batch, ceil(V/32)]`` where bit ``j % 32`` of word ``j // 32`` is set iff
token ``j`` is allowed.  Logits wider than the vocabulary (padded rows) are always masked.
"""

from __future__ import annotations

import numpy as np


def bitmask_words(vocab_size: int) -> int:
    """Number of int32 words needed for ``vocab_size`` bits."""
    return (vocab_size + 31) // 32


def allocate_numpy_bitmask(batch_size: int, vocab_size: int) -> np.ndarray:
    """A zeroed int32 numpy bitmask ``[batch_size, ceil(vocab_size/32)]``."""
    return np.zeros((batch_size, bitmask_words(vocab_size)), dtype=np.int32)


def allocate_token_bitmask(batch_size: int, vocab_size: int):
    """A torch int32 bitmask ``[batch_size, ceil(vocab_size/32)]`` on the CPU, all tokens allowed.

    All bits start set (like xgrammar) so that rows no matcher fills leave logits untouched.
    """
    import torch

    return torch.full((batch_size, bitmask_words(vocab_size)), -1, dtype=torch.int32)


def as_numpy_bitmask(bitmask) -> np.ndarray:
    """A writable numpy view of a numpy array or CPU torch tensor bitmask (no copy)."""
    if isinstance(bitmask, np.ndarray):
        arr = bitmask
    else:
        if getattr(bitmask, "device", None) is not None and bitmask.device.type != "cpu":
            raise ValueError("fill bitmasks on the CPU, then copy them to the device (tensor.to(device))")
        arr = bitmask.numpy()
    if arr.dtype != np.int32 or arr.ndim != 2:
        raise ValueError(f"bitmask must be int32 [batch, words], got {arr.dtype} {arr.shape}")
    return arr


def set_token_bits(words: np.ndarray, token_ids) -> None:
    """Set the bits of ``token_ids`` in the uint32 row ``words`` (in place; ids may repeat)."""
    ids = np.asarray(token_ids, dtype=np.int64)
    np.bitwise_or.at(words, ids >> 5, (np.uint32(1) << (ids & 31).astype(np.uint32)))


def token_ids_to_bitmask(token_ids, vocab_size: int) -> np.ndarray:
    """One bitmask row (int32 words) with exactly ``token_ids`` allowed."""
    words = np.zeros(bitmask_words(vocab_size), dtype=np.uint32)
    set_token_bits(words, token_ids)
    return words.view(np.int32)


def bitmask_to_token_ids(row: np.ndarray, vocab_size: int) -> np.ndarray:
    """Allowed token ids of one bitmask row."""
    bits = np.unpackbits(np.ascontiguousarray(row).view(np.uint8), bitorder="little")[:vocab_size]
    return np.flatnonzero(bits)


def bitmask_to_bool(row: np.ndarray, vocab_size: int) -> np.ndarray:
    """One bitmask row as a bool array of length ``vocab_size``."""
    return np.unpackbits(np.ascontiguousarray(row).view(np.uint8), bitorder="little")[:vocab_size].astype(
        bool
    )


def apply_token_bitmask_inplace(logits, bitmask, indices=None) -> None:
    """Set refused tokens' logits to ``-inf`` in place (torch, CPU or CUDA).

    ``logits`` is ``[batch, V']`` (or ``[V']``) and ``bitmask`` is ``[batch, words]``; columns
    past ``32 * words`` (a model's padded vocabulary rows) are refused.  ``indices`` selects
    which logits rows the bitmask rows apply to (default: all, row for row).
    """
    import torch

    if logits.dim() == 1:
        logits = logits.unsqueeze(0)
    width = logits.shape[-1]
    if logits.device.type == "cpu" and logits.dtype in _numpy_float_dtypes():
        _apply_on_cpu(logits.detach().numpy(), bitmask, indices)
        return
    bitmask = _bitmask_rows(bitmask)
    if indices is None and bitmask.shape[0] != logits.shape[0]:
        raise ValueError(f"bitmask has {bitmask.shape[0]} rows but logits have {logits.shape[0]}")
    if logits.device.type == "cuda":
        from automask.runtime.cuda_bitmask import apply_on_cuda

        if apply_on_cuda(logits, bitmask, indices):
            return
    allowed = _allowed_columns(bitmask, width, logits.device)
    if indices is None:
        logits.masked_fill_(~allowed, float("-inf"))
    else:
        idx = torch.as_tensor(indices, device=logits.device, dtype=torch.long)
        rows = logits[idx]
        rows.masked_fill_(~allowed[: len(idx)], float("-inf"))
        logits[idx] = rows


def _bitmask_rows(bitmask):
    """``bitmask`` as a 2-D torch tensor ``[rows, words]`` (a numpy array or one row accepted)."""
    import torch

    if isinstance(bitmask, np.ndarray):
        bitmask = torch.from_numpy(bitmask)
    return bitmask.unsqueeze(0) if bitmask.dim() == 1 else bitmask


def _numpy_float_dtypes() -> tuple:
    import torch

    return (torch.float32, torch.float64, torch.float16)


def _refused_columns_numpy(bitmask, width: int) -> np.ndarray:
    """Bool array ``[rows, width]``, True where a token is refused (numpy ``unpackbits``)."""
    words = bitmask if isinstance(bitmask, np.ndarray) else bitmask.numpy()
    words = np.ascontiguousarray(words.reshape(-1, words.shape[-1]))
    bits = np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")
    refused = np.ones((bits.shape[0], width), dtype=bool)
    n = min(width, bits.shape[1])
    np.equal(bits[:, :n], 0, out=refused[:, :n])
    return refused


def _apply_on_cpu(logits: np.ndarray, bitmask, indices) -> None:
    """Masking through numpy views of the CPU tensors.

    torch's element-wise kernels spin up an OpenMP team per call; on a small, busy CPU that
    costs milliseconds per step, while numpy's single-threaded pass over 128k floats takes
    tens of microseconds.
    """
    refused = _refused_columns_numpy(bitmask, logits.shape[-1])
    if indices is None:
        if refused.shape[0] != logits.shape[0]:
            raise ValueError(f"bitmask has {refused.shape[0]} rows but logits have {logits.shape[0]}")
        logits[refused] = -np.inf
        return
    for mask_row, logits_row in enumerate(np.asarray(indices).tolist()):
        logits[logits_row][refused[mask_row]] = -np.inf


def _allowed_columns(bitmask, width: int, device):
    """Bool tensor ``[rows, width]`` of allowed columns, unpacked on the accelerator.

    Only the small int32 mask crosses the bus; the shift-and-mask runs on the device.  The
    copy is a blocking one: callers refill the same host bitmask every step, and an
    asynchronous copy from pinned memory could still be reading it then.  (From ordinary
    pageable memory CUDA stages the copy before returning anyway, so nothing is lost.)
    """
    import torch

    bitmask = _bitmask_rows(bitmask).to(device)
    shifts = torch.arange(32, device=device, dtype=torch.int32)
    allowed = ((bitmask.unsqueeze(-1) >> shifts) & 1).bool().flatten(1)
    if allowed.shape[1] >= width:
        return allowed[:, :width]
    pad = torch.zeros(allowed.shape[0], width - allowed.shape[1], dtype=torch.bool, device=device)
    return torch.cat([allowed, pad], dim=1)
