"""Sample text from a trained run: `python -m assignment1_basics.generate --run-dir DIR --prompt TEXT` (handout §7.8).

Loads `DIR/checkpoint.pt` (written by `python -m assignment1_basics.train`, it holds the model's config), the
tokenizer files `DIR/vocab.json` and `DIR/merges.txt`, encodes the prompt with your `Tokenizer`, and calls your
`decoding.generate` with a seeded generator, so the same arguments print the same text. Generation stops at
`<|endoftext|>` or after `--max-new-tokens` tokens. Given code, not an exercise.

Deliberately left out: batched prompts, streaming output token by token, and loading weights on a GPU.
"""

import argparse
import pathlib
import time

import torch

from .checkpoint import load_checkpoint, read_checkpoint
from .config import ModelConfig
from .decoding import generate
from .model import TransformerLM
from .tokenizer import Tokenizer

EOT = "<|endoftext|>"


def load_run(run_dir: str | pathlib.Path, device: str = "cpu") -> tuple[TransformerLM, Tokenizer]:
    """The model (in eval mode, on `device`) and the tokenizer of a run folder."""
    run_dir = pathlib.Path(run_dir)
    ckpt = read_checkpoint(run_dir / "checkpoint.pt")
    if "config" not in ckpt:
        raise ValueError(f"{run_dir / 'checkpoint.pt'} holds no model config; write it with train.py's CLI")
    model = TransformerLM(ModelConfig(**ckpt["config"]))
    load_checkpoint(ckpt, model)
    model.to(device).eval()
    tokenizer = Tokenizer.from_files(run_dir / "vocab.json", run_dir / "merges.txt", [EOT])
    return model, tokenizer


def main(argv: list[str] | None = None) -> str:
    """The command line; prints and returns the prompt followed by the generated text."""
    ap = argparse.ArgumentParser(prog="python -m assignment1_basics.generate",
                                 description="Sample a continuation of a prompt from a trained run.")
    ap.add_argument("--run-dir", required=True, type=pathlib.Path)
    ap.add_argument("--prompt", default="The ")
    ap.add_argument("--max-new-tokens", type=int, default=100)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--use-cache", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    model, tokenizer = load_run(args.run_dir, args.device)
    prompt_ids = tokenizer.encode(args.prompt)
    eos_id = tokenizer.encode(EOT)[0]
    t0 = time.perf_counter()
    new_ids = generate(model, prompt_ids, args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                       eos_id=eos_id, generator=torch.Generator(device=args.device).manual_seed(args.seed),
                       use_cache=args.use_cache)
    seconds = time.perf_counter() - t0
    text = args.prompt + tokenizer.decode(new_ids)
    print(text)
    print(f"[{len(new_ids)} tokens in {seconds:.2f} s]", flush=True)
    return text


if __name__ == "__main__":
    main()
