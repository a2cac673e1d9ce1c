"""The training loop of a small language model on the CPU, and the command line that runs it (handout §7.7–§7.8).

`train` puts the units of this assignment together: every step draws a batch with `get_batch`, runs the
`TransformerLM`, takes the `cross_entropy` loss, back-propagates, clips the gradients' global norm, sets the
learning rate from `cosine_lr` and takes an `AdamW` step. Every `eval_every` steps it measures the loss on a
fixed set of validation batches; it writes checkpoints that let a run continue exactly where it stopped
(model, optimizer, iteration and the data generator's state).

`python -m assignment1_basics.train --out-dir runs/tiny` does a whole run from nothing: it generates a corpus
(`tests/corpus.py`), trains a BPE tokenizer on it with your `train_bpe`, encodes the text with your
`Tokenizer` into `uint16` token files, trains, and leaves in the run folder: `vocab.json`, `merges.txt`,
`train.npy`, `val.npy`, `checkpoint.pt` (with the model's config), `log.jsonl` (one JSON record per step),
`curve.png` (learning curves) and `summary.json`. `python -m assignment1_basics.generate --run-dir ...`
then samples from the model. The command-line part is given code, not an exercise.

Deliberately left out: mixed precision, gradient accumulation, `torch.compile`, data-parallel training,
weight-decay exclusion groups (every parameter is decayed) and early stopping.
"""

import argparse
import dataclasses
import json
import math
import os
import pathlib
import sys
import time
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .config import ModelConfig
from .data import get_batch
from .loss import cross_entropy
from .model import TransformerLM
from .optimizer import AdamW, clip_grad_norm_, cosine_lr

EOT = "<|endoftext|>"


# ---------------------------------------------------------------------------------------------------
# Configuration (given code)


@dataclass(frozen=True)
class TrainConfig:
    """Everything about a training run except the model's shape (handout §7.7). Given code.

    Fields:
        batch_size: B, sequences per step.
        context_length: m, tokens per sequence (at most the model's `context_length`).
        max_steps: the run stops after this many optimizer steps in total (a resumed run counts the steps
            it resumed from).
        lr_max, lr_min, warmup_iters, cosine_iters: the schedule `cosine_lr(t, lr_max, lr_min, warmup_iters,
            cosine_iters)`; `cosine_iters=None` means `max_steps` (set it explicitly if a run may be resumed
            with a different `max_steps`).
        weight_decay, betas, eps: AdamW's λ, (β1, β2) and ε.
        grad_clip: the largest global gradient norm; None never clips (the norm is still recorded).
        eval_every: evaluate every this many steps, and after the last step.
        eval_batches: the number of validation batches (drawn once, with a generator seeded by `seed + 1`).
        checkpoint_every: write `checkpoint_path` every this many steps; None: only after the last step.
        checkpoint_path: where checkpoints go; None writes none (and `resume` is impossible).
        seed: seeds the model's initialisation (`torch.manual_seed(seed)`), the training batches
            (`torch.Generator().manual_seed(seed)`) and the validation batches (`seed + 1`).
        device: e.g. "cpu", "cuda", "mps".
    """

    batch_size: int = 16
    context_length: int = 64
    max_steps: int = 1000
    lr_max: float = 3e-3
    lr_min: float = 3e-4
    warmup_iters: int = 100
    cosine_iters: int | None = None
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    grad_clip: float | None = 1.0
    eval_every: int = 100
    eval_batches: int = 8
    checkpoint_every: int | None = None
    checkpoint_path: str | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        for name in ("batch_size", "context_length", "max_steps", "eval_every", "eval_batches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {value!r}")
        if self.checkpoint_every is not None and self.checkpoint_every <= 0:
            raise ValueError(f"TrainConfig.checkpoint_every must be positive or None, got {self.checkpoint_every}")
        if self.warmup_iters < 0 or self.schedule_iters < self.warmup_iters:
            raise ValueError(f"TrainConfig needs 0 <= warmup_iters <= cosine_iters (or max_steps when cosine_iters "
                             f"is None), got warmup_iters={self.warmup_iters}, cosine_iters={self.cosine_iters}, "
                             f"max_steps={self.max_steps}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"TrainConfig.grad_clip must be positive or None, got {self.grad_clip}")
        object.__setattr__(self, "betas", tuple(self.betas))  # a list from JSON becomes the documented tuple

    @property
    def schedule_iters(self) -> int:
        """T_c of the schedule: `cosine_iters`, or `max_steps` when it is None."""
        return self.max_steps if self.cosine_iters is None else self.cosine_iters

    def to_dict(self) -> dict:
        """Plain Python values only (a checkpoint holding it loads with `weights_only=True`)."""
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------------
# The training loop (handout §7.7)


def train(
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    train_tokens: npt.NDArray[np.integer],
    val_tokens: npt.NDArray[np.integer],
    *,
    resume: bool = False,
    log: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train a `TransformerLM(model_cfg)` and return one record per evaluation (handout §7.7).

    Set-up: seed with `torch.manual_seed(cfg.seed)` and build the model (restore the global RNG state
    afterwards, e.g. inside `torch.random.fork_rng()`); `AdamW` over every parameter; the training batches
    come from `torch.Generator().manual_seed(cfg.seed)`; `cfg.eval_batches` validation batches are drawn
    once from `val_tokens` with a generator seeded by `cfg.seed + 1` and reused at every evaluation.

    Step t = 0, 1, …, `max_steps − 1` (after it, `step = t + 1` updates are done):
    `get_batch` → forward → `cross_entropy` → `backward` → `clip_grad_norm_(…, cfg.grad_clip)` (the norm
    before clipping is recorded; `grad_clip=None` clips nothing) → `lr = cosine_lr(t, …)` written into every
    param group → `optimizer.step()`. When `step % eval_every == 0` or `step == max_steps`, the model
    is evaluated under `torch.no_grad()`: `val_loss` is the mean of `cross_entropy` over the validation
    batches. When `step % checkpoint_every == 0` or `step == max_steps` (and `checkpoint_path` is set), a
    checkpoint is written with `save_checkpoint(..., extra={"config": model_cfg.to_dict(),
    "train_config": cfg.to_dict(), "rng": generator.get_state()})`.

    With `resume=True`, model, optimizer, iteration and the training generator's state are restored from
    `cfg.checkpoint_path` and the loop continues at that iteration: the records it returns are exactly those
    an uninterrupted run returns for the same steps (apart from `tokens_per_s`).

    Args:
        model_cfg: the model's shape.
        cfg: the run's settings.
        train_tokens: 1-D integer token array (a `uint16` memmap from `np.load(..., mmap_mode="r")` is never
            read whole).
        val_tokens: 1-D integer token array for the validation batches.
        resume: continue from `cfg.checkpoint_path` instead of starting afresh.
        log: called after every step with that step's record (see Returns; `val_loss` only on evaluation
            steps).

    Returns:
        The evaluation records, in step order: dicts with `step` (int, updates done), `train_loss` (that
        step's batch loss), `val_loss`, `lr` (the learning rate of that step's update), `grad_norm` (before
        clipping) and `tokens_per_s` (training throughput since the previous evaluation), all plain Python
        numbers.

    Raises:
        ValueError: if `cfg.context_length > model_cfg.context_length`, or `resume` without a
            `checkpoint_path`.
    """
    # BEGIN SOLUTION
    raise NotImplementedError("a1.train train: see handout §7.7")
    # END SOLUTION


# ---------------------------------------------------------------------------------------------------
# Command line (given code): corpus → BPE → token files → training → curves


def unigram_cross_entropy(train_tokens: np.ndarray, val_tokens: np.ndarray, vocab_size: int) -> float:
    """The loss of the best model that ignores context: `−mean log q(v)` over the validation tokens, in nats.

    `q` is the unigram distribution of the training tokens with add-one smoothing,
    `q(v) = (count(v) + 1) / (N + V)`. A language model has learned something beyond token frequencies only
    when its validation loss is below this.
    """
    counts = np.bincount(np.asarray(train_tokens), minlength=vocab_size).astype(np.float64)
    log_q = np.log(counts + 1.0) - np.log(counts.sum() + vocab_size)
    val_counts = np.bincount(np.asarray(val_tokens), minlength=vocab_size).astype(np.float64)
    return float(-(val_counts * log_q).sum() / val_counts.sum())


def prepare_data(out_dir: pathlib.Path, *, corpus_bytes: int, val_bytes: int, seed: int, languages: tuple[str, ...],
                 vocab_size: int, num_processes: int = 1) -> dict:
    """Generate a corpus, train BPE on it, write vocab.json / merges.txt and uint16 train.npy / val.npy.

    One corpus of `corpus_bytes + val_bytes` is generated with `seed` (the seed also picks the generator's
    lexicon and sentence pools, so the two splits must share it) and cut at the first `<|endoftext|>` after
    `corpus_bytes`: the documents before it are the training text, the rest the validation text. BPE is
    trained on the training text only. Files that already exist are reused, so a resumed run sees the same
    tokens. Returns timings and sizes.
    """
    from .bpe import train_bpe
    from .tests import corpus
    from .tokenizer import Tokenizer, save_vocab_merges

    out_dir.mkdir(parents=True, exist_ok=True)
    info: dict = {}
    paths = {name: out_dir / name for name in ("train.txt", "val.txt", "vocab.json", "merges.txt", "train.npy",
                                                "val.npy")}
    t0 = time.perf_counter()
    if not paths["train.txt"].exists():
        data = corpus.generate(corpus_bytes + val_bytes, seed, languages=languages).encode("utf-8")
        cut = data.find(EOT.encode("utf-8"), corpus_bytes)
        cut = len(data) if cut < 0 else cut
        paths["train.txt"].write_bytes(data[:cut])
        paths["val.txt"].write_bytes(data[cut:])
    info["corpus_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if not paths["vocab.json"].exists():
        vocab, merges = train_bpe(paths["train.txt"], vocab_size, [EOT], num_processes=num_processes)
        save_vocab_merges(vocab, merges, paths["vocab.json"], paths["merges.txt"])
    info["bpe_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tokenizer = Tokenizer.from_files(paths["vocab.json"], paths["merges.txt"], [EOT])
    for split in ("train", "val"):
        if paths[f"{split}.npy"].exists():
            continue
        with open(paths[f"{split}.txt"], encoding="utf-8", newline="") as f:
            ids = np.fromiter(tokenizer.encode_iterable(f), dtype=np.int64)
        if ids.size and ids.max() >= 2**16:
            raise ValueError("token ids do not fit in uint16: use a vocabulary below 65,536")
        np.save(paths[f"{split}.npy"], ids.astype(np.uint16))
    info["encode_s"] = time.perf_counter() - t0
    for split in ("train", "val"):
        info[f"{split}_bytes"] = paths[f"{split}.txt"].stat().st_size
        info[f"{split}_tokens"] = int(np.load(paths[f"{split}.npy"], mmap_mode="r").shape[0])
    return info


def plot_curves(steps: list[dict], evals: list[dict], baseline: float | None, path: pathlib.Path,
                title: str = "") -> None:
    """Training loss per step, validation loss per evaluation and the unigram baseline, as a small PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=90)
    ax.plot([r["step"] for r in steps], [r["train_loss"] for r in steps], lw=0.8, alpha=0.6, label="train (batch)")
    ax.plot([r["step"] for r in evals], [r["val_loss"] for r in evals], "o-", ms=3, label="validation")
    if baseline is not None:
        ax.axhline(baseline, color="grey", ls="--", lw=1, label=f"unigram baseline {baseline:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _field_type(tp) -> tuple[type, bool]:
    """(base type, whether None is allowed) of a dataclass field annotation such as `int | None`."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return tp, False


def _add_config_args(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...]) -> None:
    """One typed `--field-name` option per dataclass field; `none` sets an optional field to None."""
    group = parser.add_argument_group(cls.__name__)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        base, optional = _field_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        if typing.get_origin(base) is tuple:
            group.add_argument(flag, type=float, nargs=2, default=f.default, metavar=("B1", "B2"))
            continue
        if base is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
            continue

        def parse(text: str, base=base, optional=optional, name=f.name):
            if optional and text.lower() == "none":
                return None
            try:
                return base(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{name} needs a {base.__name__}, got {text!r}") from None
        group.add_argument(flag, type=parse, default=f.default,
                           help=f"{base.__name__}{' or none' if optional else ''} (default {f.default})")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m assignment1_basics.train",
                                 description="Generate a corpus, train BPE and a small Transformer LM on it.")
    ap.add_argument("--out-dir", required=True, type=pathlib.Path, help="the run folder")
    ap.add_argument("--resume", action="store_true", help="continue from OUT_DIR/checkpoint.pt")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    data = ap.add_argument_group("data")
    data.add_argument("--corpus-size", default="4MB", help="training text, e.g. 500KB, 4MB")
    data.add_argument("--val-size", default="200KB", help="validation text")
    data.add_argument("--corpus-seed", type=int, default=0)
    data.add_argument("--languages", default="en", help="comma-separated corpus languages (see tests/corpus.py)")
    data.add_argument("--vocab-size", type=int, default=1024, help="BPE vocabulary, special token included")
    data.add_argument("--bpe-processes", type=int, default=1)
    model = ap.add_argument_group("model")
    model.add_argument("--d-model", type=int, default=128)
    model.add_argument("--n-layers", type=int, default=2)
    model.add_argument("--n-heads", type=int, default=4)
    model.add_argument("--n-kv-heads", type=int, default=None)
    model.add_argument("--d-ff", type=int, default=None)
    model.add_argument("--rope-theta", type=float, default=10000.0)
    model.add_argument("--tie-embeddings", action="store_true")
    _add_config_args(ap, TrainConfig, skip=("checkpoint_path",))
    return ap


def _progress(total: int, start: int):
    """A rich progress bar when stdout is a terminal, else None (the caller prints lines instead)."""
    if not sys.stdout.isatty():
        return None
    try:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:
        return None
    bar = Progress(TextColumn("step {task.completed}/{task.total}"), BarColumn(), TextColumn("{task.fields[info]}"),
                   TimeRemainingColumn())
    bar.add_task("train", total=total, completed=start, info="")
    return bar


def main(argv: list[str] | None = None) -> dict:
    """The command line; returns the summary it writes to OUT_DIR/summary.json."""
    from .tests.corpus import parse_size

    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out: pathlib.Path = args.out_dir
    wall0 = time.perf_counter()
    languages = tuple(args.languages.split(","))
    data_info = prepare_data(out, corpus_bytes=parse_size(args.corpus_size), val_bytes=parse_size(args.val_size),
                             seed=args.corpus_seed, languages=languages, vocab_size=args.vocab_size,
                             num_processes=args.bpe_processes)
    print(f"data: {data_info['train_tokens']:,} train / {data_info['val_tokens']:,} val tokens "
          f"(corpus {data_info['corpus_s']:.1f} s, BPE {data_info['bpe_s']:.1f} s, encode "
          f"{data_info['encode_s']:.1f} s)", flush=True)
    train_tokens = np.load(out / "train.npy", mmap_mode="r")
    val_tokens = np.load(out / "val.npy", mmap_mode="r")
    vocab_size = len(json.loads((out / "vocab.json").read_text(encoding="utf-8")))
    baseline = unigram_cross_entropy(train_tokens, val_tokens, vocab_size)

    model_cfg = ModelConfig(vocab_size=vocab_size, context_length=args.context_length, d_model=args.d_model,
                            n_layers=args.n_layers, n_heads=args.n_heads, n_kv_heads=args.n_kv_heads,
                            d_ff=args.d_ff, rope_theta=args.rope_theta, tie_embeddings=args.tie_embeddings)
    fields = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if f.name != "checkpoint_path"}
    cfg = TrainConfig(**fields, checkpoint_path=os.fspath(out / "checkpoint.pt"))
    n_params = sum(p.numel() for p in TransformerLM(model_cfg).parameters())
    print(f"model: {n_params:,} parameters; unigram baseline {baseline:.3f} nats/token", flush=True)

    log_path = out / "log.jsonl"
    start = read_checkpoint(cfg.checkpoint_path)["iteration"] if args.resume else 0
    steps: list[dict] = []
    if args.resume and log_path.exists():  # keep the log of the steps before the checkpoint
        steps = [r for r in map(json.loads, log_path.read_text(encoding="utf-8").splitlines()) if r["step"] <= start]
    bar = _progress(cfg.max_steps, start)

    with open(log_path, "w", encoding="utf-8") as log_file:
        for r in steps:
            log_file.write(json.dumps(r) + "\n")

        def log(record: dict) -> None:
            steps.append(record)
            log_file.write(json.dumps(record) + "\n")
            if "val_loss" in record:
                log_file.flush()
                line = (f"step {record['step']:>6}  train {record['train_loss']:.3f}  val {record['val_loss']:.3f}  "
                        f"lr {record['lr']:.2e}  |g| {record['grad_norm']:.2f}  {record['tokens_per_s']:,.0f} tok/s")
                if bar is None:
                    print(line, flush=True)
                else:
                    bar.console.print(line)
            if bar is not None:
                bar.update(bar.task_ids[0], completed=record["step"], info=f"loss {record['train_loss']:.3f}")

        t0 = time.perf_counter()
        if bar is not None:
            bar.start()
        try:
            train(model_cfg, cfg, train_tokens, val_tokens, resume=args.resume, log=log)
        finally:
            if bar is not None:
                bar.stop()
        train_s = time.perf_counter() - t0

    evals = [r for r in steps if "val_loss" in r]
    plot_curves(steps, evals, baseline, out / "curve.png",
                title=f"d={args.d_model}, {args.n_layers} layers, ctx {args.context_length}, vocab {vocab_size}")
    new_steps = cfg.max_steps - start
    summary = {
        "command": "python -m assignment1_basics.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model_config": model_cfg.to_dict(),
        "train_config": cfg.to_dict(),
        "parameters": n_params,
        "data": data_info,
        "unigram_baseline": baseline,
        "final_val_loss": evals[-1]["val_loss"] if evals else None,
        "final_train_loss": steps[-1]["train_loss"] if steps else None,
        "train_seconds": train_s,
        # all of train(): steps, evaluations and checkpoints; the records' tokens_per_s count steps only
        "tokens_per_s": new_steps * cfg.batch_size * cfg.context_length / train_s if new_steps > 0 else None,
        "step_tokens_per_s_median": float(np.median([r["tokens_per_s"] for r in evals])) if evals else None,
        "wall_seconds": time.perf_counter() - wall0,
        "evals": evals,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"final validation loss {summary['final_val_loss']:.3f} (unigram baseline {baseline:.3f}); "
          f"{summary['tokens_per_s'] or 0:,.0f} tokens/s; wrote {out}", flush=True)
    return summary


if __name__ == "__main__":
    main()
