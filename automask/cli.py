"""The ``automask`` command line (also ``python -m automask``).

    automask generate CONSTRAINT "prompt" [--model PATH] [--max-new-tokens N] [--temperature T]
    automask compile  CONSTRAINT --tokenizer NAME [--json]
    automask check    CONSTRAINT --tokenizer NAME --text S

CONSTRAINT is one of ``--regex R``, ``--json-schema S`` (JSON text or a ``.json`` file) or
``--grammar G`` (a ``.lark`` / ``.gbnf`` file or a bundled grammar name such as ``sql.lark``;
``--syntax`` and ``--start`` override what the file name implies).

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

    gen = commands.add_parser(
        "generate", help="generate text constrained by a regex, JSON Schema or grammar (streams it)"
    )
    gen.add_argument("prompt")
    _add_constraint_arguments(gen)
    gen.add_argument(
        "--model", default=None, help="local HF model folder or .gguf file (default: SmolLM2-135M)"
    )
    gen.add_argument("--max-new-tokens", type=int, default=64)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    gen.add_argument("--seed", type=int, default=0, help="sampling seed (with --temperature > 0)")
    gen.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    gen.add_argument("--no-chat", action="store_true", help="do not wrap the prompt in the chat template")
    gen.set_defaults(handler=_cmd_generate)

    comp = commands.add_parser("compile", help="compile a constraint for a vocabulary and print statistics")
    _add_constraint_arguments(comp)
    comp.add_argument(
        "--tokenizer", required=True, help="llama3, mistral-sp, tekken, gpt2, qwen2, smollm2 or a path"
    )
    comp.add_argument("--json", action="store_true", help="print one JSON object")
    comp.set_defaults(handler=_cmd_compile)

    check = commands.add_parser("check", help="check whether a text's canonical tokenization is accepted")
    _add_constraint_arguments(check)
    check.add_argument("--tokenizer", required=True)
    check.add_argument("--text", required=True)
    check.set_defaults(handler=_cmd_check)
    return parser


def _add_constraint_arguments(parser: argparse.ArgumentParser) -> None:
    """The constraint options every command takes: exactly one of regex, JSON Schema, grammar."""
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--regex", help="the whole output must fully match this regex")
    kind.add_argument(
        "--json-schema", help="the output must be JSON valid under this schema (JSON text or a .json file)"
    )
    kind.add_argument(
        "--grammar",
        help="the output must be a sentence of this grammar (a .lark/.gbnf file or a bundled name, e.g. sql.lark)",
    )
    parser.add_argument(
        "--syntax",
        choices=("lark", "gbnf"),
        default=None,
        help="grammar syntax (default: from the file name)",
    )
    parser.add_argument("--start", default=None, help="grammar start rule (default: start / root)")


def _compile_constraint(args: argparse.Namespace, vocab: Any) -> Any:
    """The `CompiledGrammar` of the command's constraint (`_add_constraint_arguments`) for ``vocab``."""
    if args.regex is not None:
        from automask.api import compile_regex

        return compile_regex(args.regex, vocab)
    if args.json_schema is not None:
        from automask.json_schema_api import compile_json_schema

        return compile_json_schema(_read_json_schema(args.json_schema), vocab)
    from automask.grammar_api import compile_grammar

    text, syntax = _read_grammar(args.grammar)
    return compile_grammar(text, vocab, syntax=args.syntax or syntax, start=args.start)


def _read_json_schema(source: str) -> Any:
    """A schema from JSON text or from the file it names (`GrammarSyntaxError` for neither)."""
    from pathlib import Path

    from automask.errors import GrammarSyntaxError

    text = source
    if not source.lstrip().startswith(("{", "[", "true", "false")):
        path = Path(source)
        if not path.is_file():
            raise GrammarSyntaxError(f"--json-schema {source!r} is neither JSON text nor a file")
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GrammarSyntaxError(f"--json-schema is not valid JSON: {exc.msg}", text, exc.pos) from None


def _read_grammar(source: str) -> tuple[str, str]:
    """``(text, syntax)`` of a grammar file or a bundled grammar name (syntax from the suffix)."""
    from pathlib import Path

    from automask.errors import GrammarSyntaxError
    from automask.grammars import bundled_names, load_bundled

    path = Path(source)
    syntax = "gbnf" if path.suffix == ".gbnf" else "lark"
    if path.is_file():
        return path.read_text(encoding="utf-8"), syntax
    if source in bundled_names():
        return load_bundled(source), syntax
    raise GrammarSyntaxError(
        f"--grammar {source!r} is neither a file nor a bundled grammar ({', '.join(bundled_names())})"
    )


def _constraint_label(args: argparse.Namespace) -> str:
    if args.regex is not None:
        return f"regex {args.regex}"
    if args.json_schema is not None:
        return f"JSON Schema {args.json_schema}"
    return f"grammar {args.grammar}"


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

    from automask.compiler.vocabulary.vocabulary import Vocabulary
    from automask.runtime.integrations.default_model import load_model
    from automask.runtime.integrations.transformers import generate_with_stats

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model, tokenizer = load_model(args.model)
    loaded = time.perf_counter()
    grammar = _compile_constraint(args, Vocabulary.from_hf(tokenizer))
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
            f"automask: output incomplete: --max-new-tokens {args.max_new_tokens} ran out before the output "
            "was complete",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    return EXIT_OK


# -- compile -----------------------------------------------------------------------------
def _cmd_compile(args: argparse.Namespace) -> int:
    from automask.compiler.vocabulary.builtin import load_vocabulary

    started = time.perf_counter()
    vocab = load_vocabulary(args.tokenizer)
    vocab_seconds = time.perf_counter() - started

    tracemalloc.start()
    try:
        started = time.perf_counter()
        grammar = _compile_constraint(args, vocab)
        wall_seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stats = grammar.stats
    report = {
        "constraint": _constraint_label(args),
        "regex": args.regex,
        "tokenizer": args.tokenizer,
        "vocab_size": vocab.size,
        "dfa_states": stats.get("num_states"),
        "grammar_rules": stats.get("num_rules"),
        "grammar_terminals": stats.get("num_terminals"),
        "token_index_rows": stats.get("num_rows"),
        "token_index_bytes": stats.get("index_bytes"),
        "compile_ms": 1e3 * stats.get("compile_seconds", wall_seconds),
        "peak_memory_bytes": peak,
        "vocab_load_ms": 1e3 * vocab_seconds,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"constraint       {report['constraint']}")
        print(
            f"vocabulary       {args.tokenizer} ({vocab.size:,} tokens, loaded in {report['vocab_load_ms']:.0f} ms)"
        )
        print(f"DFA states       {report['dfa_states']:,}")
        if report["grammar_rules"] is not None:
            print(
                f"grammar          {report['grammar_rules']:,} rules, {report['grammar_terminals']:,} terminals"
            )
        if report["token_index_rows"] is None:
            print("token index      built lazily, per lexer state, while decoding")
        else:
            print(
                f"token index      {report['token_index_rows']:,} rows, {report['token_index_bytes']:,} bytes"
            )
        print(f"compile time     {report['compile_ms']:.1f} ms (under tracemalloc)")
        print(f"peak memory      {peak / 2**20:.2f} MiB (tracemalloc, during compile)")
    return EXIT_OK


# -- check -------------------------------------------------------------------------------
def _cmd_check(args: argparse.Namespace) -> int:
    from automask.compiler.vocabulary.builtin import load_tokenizer, load_vocabulary
    from automask.runtime.bitmask import allocate_numpy_bitmask, bitmask_to_token_ids

    vocab = load_vocabulary(args.tokenizer)
    tokenizer = load_tokenizer(args.tokenizer)
    grammar = _compile_constraint(args, vocab)
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
