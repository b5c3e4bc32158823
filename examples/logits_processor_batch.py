"""Batched constrained sampling with `automask.LogitsProcessor` inside ``model.generate``.

Two prompts, each with its own regex (one compiled grammar per prompt), sampled three times
each (``num_return_sequences=3``): the processor keeps one matcher per batch row, consumes the
newly generated token of every row per step and masks the logits of the whole batch at once.

    python examples/logits_processor_batch.py
"""

import re

import torch
import transformers

import automask

model, tokenizer = automask.load_default_model()
vocab = automask.Vocabulary.from_hf(tokenizer)

jobs = [
    ("Give me a time of day for breakfast.", r"([01]\d|2[0-3]):[0-5]\d"),
    ("Name a primary colour.", r"(red|green|blue)"),
]
grammars = [automask.compile_regex(regex, vocab) for _, regex in jobs]

tokenizer.padding_side = "left"  # decoder-only models need left padding in a batch
chats = [
    tokenizer.apply_chat_template(
        [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
    )
    for p, _ in jobs
]
inputs = tokenizer(chats, add_special_tokens=False, padding=True, return_tensors="pt")

processor = automask.LogitsProcessor(grammars, pad_token_id=tokenizer.pad_token_id)
torch.manual_seed(0)
output = model.generate(
    **inputs,
    logits_processor=transformers.LogitsProcessorList([processor]),
    do_sample=True,
    temperature=1.0,
    num_return_sequences=3,
    max_new_tokens=16,
    eos_token_id=sorted(vocab.eos_ids),
    pad_token_id=tokenizer.pad_token_id,
)

prompt_width = inputs["input_ids"].shape[1]
for row, ids in enumerate(output[:, prompt_width:].tolist()):
    prompt, regex = jobs[row // 3]
    text_ids = ids[: next((i for i, t in enumerate(ids) if t in vocab.eos_ids), len(ids))]
    text = vocab.decode(text_ids).decode("utf-8")
    assert re.fullmatch(regex, text), (regex, text)
    print(f"{prompt!r:45} -> {text}")
