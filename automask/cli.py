"""The ``automask`` command line (also ``python -m automask``).

    automask generate --regex R "prompt" [--model PATH] [--max-new-tokens N] [--temperature T]
    automask compile  --regex R --tokenizer NAME [--json]
    automask check    --regex R --tokenizer NAME --text S

Exit status: 0 success / accepted, 1 refused (``check``) or incomplete output (``generate``),
2 an automask error (bad regex, unknown tokenizer, unavailable artifact ...), printed as one
clean message without a traceback.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

from automask.errors import AutomaskError

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_ERROR = 2
_SHOWN_CONTINUATIONS = 8


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except AutomaskError as exc:
        print(f"automask: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automask", description="Compile constraints to token-level automata and generate with them."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="generate text constrained by a regex (streams it)")
    gen.add_argument("prompt")
    gen.add_argument("--regex", required=True, help="the whole output must fully match this")
    gen.add_argument(
        "--model", default=None, help="local HF model folder or .gguf file (default: SmolLM2-135M)"
    )
    gen.add_argument("--max-new-tokens", type=int, default=64)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    gen.add_argument("--seed", type=int, default=0, help="sampling seed (with --temperature > 0)")
    gen.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    gen.add_argument("--no-chat", action="store_true", help="do not wrap the prompt in the chat template")
    gen.set_defaults(handler=_cmd_generate)

    comp = commands.add_parser("compile", help="compile a regex for a vocabulary and print statistics")
    comp.add_argument("--regex", required=True)
    comp.add_argument(
        "--tokenizer", required=True, help="llama3, mistral-sp, tekken, gpt2, qwen2, smollm2 or a path"
    )
    comp.add_argument("--json", action="store_true", help="print one JSON object")
    comp.set_defaults(handler=_cmd_compile)

    check = commands.add_parser("check", help="check whether a text's canonical tokenization is accepted")
    check.add_argument("--regex", required=True)
    check.add_argument("--tokenizer", required=True)
    check.add_argument("--text", required=True)
    check.set_defaults(handler=_cmd_check)
    return parser


# -- generate ----------------------------------------------------------------------------
class _ByteStreamer:
    """A transformers streamer that prints each generated token's exact bytes as they come.

    The first `put` is the prompt and is skipped; EOS and other special tokens print nothing.
    An incremental UTF-8 decoder holds back a character split across tokens.
    """

    def __init__(self, vocab: Any, out=None) -> None:
        self._vocab = vocab
        self._out = out if out is not None else sys.stdout
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._seen_prompt = False

    def put(self, value) -> None:
        if not self._seen_prompt:
            self._seen_prompt = True
            return
        data = self._vocab.decode(int(t) for t in value.reshape(-1).tolist())
        self._out.write(self._decoder.decode(data))
        self._out.flush()

    def end(self) -> None:
        self._out.write(self._decoder.decode(b"", final=True) + "\n")
        self._out.flush()


def _cmd_generate(args: argparse.Namespace) -> int:
    import torch

    from automask.api import compile_regex
    from automask.compiler.vocabulary.vocabulary import Vocabulary
    from automask.runtime.integrations.default_model import load_model
    from automask.runtime.integrations.transformers import generate_with_stats

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model, tokenizer = load_model(args.model)
    loaded = time.perf_counter()
    grammar = compile_regex(args.regex, Vocabulary.from_hf(tokenizer))
    compiled = time.perf_counter()
    sampling: dict[str, Any] = {"do_sample": False}
    if args.temperature > 0:
        torch.manual_seed(args.seed)
        sampling = {"do_sample": True, "temperature": args.temperature, "top_k": 0, "top_p": 1.0}
    result = generate_with_stats(
        model,
        tokenizer,
        args.prompt,
        grammar=grammar,
        max_new_tokens=args.max_new_tokens,
        chat=not args.no_chat,
        streamer=_ByteStreamer(grammar.vocab),
        **sampling,
    )
    consume_us = 1e6 * result.processor.consume_seconds / max(result.processor.num_steps, 1)
    print(
        f"[model load {loaded - started:.2f} s, compile {1e3 * (compiled - loaded):.1f} ms; "
        f"{result.num_generated} tokens in {result.seconds:.2f} s = {result.tokens_per_second:.1f} tokens/s; "
        f"mask overhead {result.mask_microseconds_per_token:.1f} us/token (fill+apply), "
        f"consume {consume_us:.1f} us/token]",
        file=sys.stderr,
    )
    if not result.complete:
        print(
            f"automask: output incomplete: --max-new-tokens {args.max_new_tokens} ran out before a full match",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    return EXIT_OK


# -- compile -----------------------------------------------------------------------------
def _cmd_compile(args: argparse.Namespace) -> int:
    from automask.api import compile_regex
    from automask.compiler.vocabulary.builtin import load_vocabulary

    started = time.perf_counter()
    vocab = load_vocabulary(args.tokenizer)
    vocab_seconds = time.perf_counter() - started

    tracemalloc.start()
    try:
        started = time.perf_counter()
        grammar = compile_regex(args.regex, vocab)
        wall_seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stats = grammar.stats
    report = {
        "regex": args.regex,
        "tokenizer": args.tokenizer,
        "vocab_size": vocab.size,
        "dfa_states": stats.get("num_states"),
        "token_index_rows": stats.get("num_rows"),
        "token_index_bytes": stats.get("index_bytes"),
        "compile_ms": 1e3 * stats.get("compile_seconds", wall_seconds),
        "peak_memory_bytes": peak,
        "vocab_load_ms": 1e3 * vocab_seconds,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"regex            {args.regex}")
        print(
            f"vocabulary       {args.tokenizer} ({vocab.size:,} tokens, loaded in {report['vocab_load_ms']:.0f} ms)"
        )
        print(f"DFA states       {report['dfa_states']:,}")
        print(f"token index      {report['token_index_rows']:,} rows, {report['token_index_bytes']:,} bytes")
        print(f"compile time     {report['compile_ms']:.1f} ms (under tracemalloc)")
        print(f"peak memory      {peak / 2**20:.2f} MiB (tracemalloc, during compile)")
    return EXIT_OK


# -- check -------------------------------------------------------------------------------
def _cmd_check(args: argparse.Namespace) -> int:
    from automask.api import compile_regex
    from automask.compiler.vocabulary.builtin import load_tokenizer, load_vocabulary
    from automask.runtime.bitmask import allocate_numpy_bitmask, bitmask_to_token_ids

    vocab = load_vocabulary(args.tokenizer)
    tokenizer = load_tokenizer(args.tokenizer)
    grammar = compile_regex(args.regex, vocab)
    matcher = grammar.matcher()
    token_ids = [int(t) for t in tokenizer.encode(args.text, add_special_tokens=False)]
    bitmask = allocate_numpy_bitmask(1, vocab.size)

    def allowed() -> list[int]:
        matcher.fill_next_token_bitmask(bitmask, 0)
        return bitmask_to_token_ids(bitmask[0], vocab.size).tolist()

    def show_continuations(ids: list[int]) -> str:
        shown = ", ".join(_token_label(vocab, t) for t in ids[:_SHOWN_CONTINUATIONS])
        more = f", ... ({len(ids)} allowed)" if len(ids) > _SHOWN_CONTINUATIONS else f" ({len(ids)} allowed)"
        return (shown + more) if ids else "none"

    so_far = b""
    for index, token_id in enumerate(token_ids):
        ids = allowed()
        if token_id not in set(ids) or not matcher.consume_token(token_id):
            print(
                f"refused at token {index} (id {token_id}, {vocab[token_id]!r}): token not allowed after "
                f"{so_far.decode('utf-8', errors='replace')!r}\n"
                f"  allowed continuations: {show_continuations(ids)}"
            )
            return EXIT_REFUSED
        so_far += vocab[token_id]

    ids = allowed()
    eos_allowed = [t for t in ids if t in vocab.eos_ids]
    if not eos_allowed or not matcher.consume_token(eos_allowed[0]):
        print(
            f"refused at token {len(token_ids)} (EOS): EOS not allowed because the output is incomplete: "
            f"{so_far.decode('utf-8', errors='replace')!r}\n"
            f"  allowed continuations: {show_continuations(ids)}"
        )
        return EXIT_REFUSED
    print(f"accepted: {len(token_ids)} tokens + EOS")
    return EXIT_OK


def _token_label(vocab: Any, token_id: int) -> str:
    return "EOS" if token_id in vocab.eos_ids else f"{token_id}:{vocab[token_id]!r}"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
