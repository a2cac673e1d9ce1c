"""The HF `tokenizers` byte-level BPE trainer, configured like the GPT-2 tokenizer, as a speed yardstick.

`tokenizers.models.BPE` with the `ByteLevel` pre-tokenizer (GPT-2 regex, no prefix space) and a `BpeTrainer`
seeded with the 256-byte alphabet, so `vocab_size` counts the same things as the reference's (256 bytes +
specials + merges). Its merges differ from the handout's (ties prefer smaller pair ids; special tokens are not
split out of the training text), so benchmarks compare its time only.

Threads: the trainer uses rayon; `TOKENIZERS_PARALLELISM=false` makes it sequential (read at each call),
`RAYON_NUM_THREADS` caps the pool (read once per process, so set it before the first call).
Left out: the `tokenizers` normalisers and post-processors (not needed for training).
"""

import json
import os


def train_hf(path, vocab_size: int, special_tokens: list[str], threads: int = 2) -> dict:
    """Train on one file; return the vocabulary size and number of merges it produced."""
    os.environ.setdefault("RAYON_NUM_THREADS", str(max(threads, 1)))
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([str(path)], trainer)
    return {"vocab_size": tok.get_vocab_size(), "merges": _count_merges(tok)}


def _count_merges(tok) -> int:
    return len(json.loads(tok.to_str())["model"]["merges"])
