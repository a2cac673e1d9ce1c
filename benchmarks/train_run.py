"""One measured training run of the reference: `python -m assignment1_basics.train` end to end on the CPU.

Runs the training command line of handout §7.8 with the instructor reference (corpus generation, BPE with
vocab 1,024, encoding to uint16 token files, a 3-layer d = 128 model, periodic validation, checkpoint,
curves), then samples from the checkpoint with `python -m assignment1_basics.generate`. With `--save` it
writes `results/train_run.json`, `results/train_run.md` and `results/train_curve.png`.

What it shows: a CPU run of a few minutes takes the validation loss well below the unigram baseline (the
cross-entropy of the validation tokens under the training tokens' unigram frequencies, in the same nats per
token as the loss). Left out: repeated runs and timing statistics (one run is the point; throughput figures
come from the run's own records), and any GPU.
"""

import argparse
import os
import pathlib
import shutil
import time

from benchmarks import _common, _reference

REPO = pathlib.Path(__file__).resolve().parents[1]

# The run's settings: command-line arguments of `python -m assignment1_basics.train` (besides --out-dir).
RUN_ARGS = ["--corpus-size", "4MB", "--val-size", "200KB", "--languages", "en", "--vocab-size", "1024",
            "--d-model", "128", "--n-layers", "3", "--n-heads", "4", "--context-length", "128",
            "--batch-size", "16", "--max-steps", "1200", "--lr-max", "3e-3", "--lr-min", "3e-4",
            "--warmup-iters", "100", "--eval-every", "100", "--eval-batches", "8", "--checkpoint-every", "400",
            "--threads", "1", "--seed", "0"]
PROMPTS = ["The little girl", "Once upon a time"]
SAMPLE_ARGS = ["--max-new-tokens", "60", "--temperature", "0.8", "--top-p", "0.95", "--seed", "0"]


def _markdown(d: dict) -> str:
    s, cfg, mc = d["summary"], d["summary"]["train_config"], d["summary"]["model_config"]
    lines = [
        "# Training run: the reference's `python -m assignment1_basics.train` on the CPU",
        "",
        f"Measured {d['machine']['date']} on {d['machine']['cpu']} ({d['machine']['cores_available']} cores shared "
        f"with other jobs; load average {d['load_average_start']} when the run started, "
        f"{d['load_average_end']} when it ended), torch with 1 thread. Raw figures: `train_run.json`; "
        "curve: `train_curve.png`.",
        "",
        "Command (from a folder where `assignment1_basics` is the reference, see `benchmarks/_reference.py`):",
        "",
        "```",
        d["command"],
        "```",
        "",
        "| | |",
        "|---|---|",
        f"| Data | {s['data']['train_bytes']:,} bytes of generated English (`tests/corpus.py`, seed 0) → "
        f"{s['data']['train_tokens']:,} training tokens; the following {s['data']['val_bytes']:,} bytes (new "
        f"documents from the same generator) → {s['data']['val_tokens']:,} validation tokens |",
        f"| Tokenizer | byte-level BPE, vocab {mc['vocab_size']:,} (`<|endoftext|>` included), trained in "
        f"{s['data']['bpe_s']:.1f} s; encoding took {s['data']['encode_s']:.1f} s |",
        f"| Model | d {mc['d_model']}, {mc['n_layers']} layers, {mc['n_heads']} heads, d_ff "
        f"{mc['d_ff'] or 'default (384)'}, context {mc['context_length']}: {s['parameters']:,} parameters |",
        f"| Training | {cfg['max_steps']:,} steps × {cfg['batch_size']} × {cfg['context_length']} tokens; AdamW "
        f"β {tuple(cfg['betas'])}, λ {cfg['weight_decay']}; lr {cfg['lr_max']:g} → {cfg['lr_min']:g} "
        f"(warm-up {cfg['warmup_iters']}, cosine to the last step); clip {cfg['grad_clip']} |",
        f"| Wall time | {d['wall_s']:.0f} s in all ({s['train_seconds']:.0f} s in `train`, the rest data "
        f"preparation and plotting) |",
        f"| Throughput | {s['step_tokens_per_s_median']:,.0f} tokens/s in training steps (median over evaluation "
        f"intervals); {s['tokens_per_s']:,.0f} tokens/s including evaluations and checkpoints |",
        f"| Final validation loss | **{s['final_val_loss']:.3f}** nats/token (train batch loss "
        f"{s['final_train_loss']:.3f}) |",
        f"| Unigram baseline | {s['unigram_baseline']:.3f} nats/token (add-one smoothed training frequencies) |",
        "",
        "| step | train (batch) | validation | lr |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['step']} | {r['train_loss']:.3f} | {r['val_loss']:.3f} | {r['lr']:.2e} |" for r in s["evals"]]
    lines += ["", "Samples (`python -m assignment1_basics.generate --run-dir RUN --prompt P "
              + " ".join(SAMPLE_ARGS) + "`, KV cache on):", ""]
    for p, text in d["samples"].items():
        lines += [f"* prompt `{p}`:", "", "  ```", *("  " + t for t in text.splitlines()), "  ```", ""]
    lines += [
        "Reading the numbers: the corpus is word salad sampled from a fixed pool of about 2,000 sentences per "
        "language over a pseudo-word lexicon (`tests/corpus.py`), and the validation documents are new samples "
        "from the same pool. A validation loss far below the unigram baseline therefore shows that the whole "
        "pipeline (tokenizer, model, loss, optimizer, schedule, batches) learns, largely by memorising the pool's "
        "sentences; it says nothing about language. The generator's seed also picks the pool and the lexicon, "
        "so validation text made with another seed is out of distribution (in a first attempt that used "
        "seed 1 for validation, the validation loss rose from 4.9 to 6.1 over 400 steps while the training loss "
        "fell to 2.4); `train.py` therefore cuts both splits from one generated corpus.", ""]
    return "\n".join(lines)


def write_markdown(data: dict) -> None:
    """results/train_run.md from the figures of one run (also re-creatable from results/train_run.json)."""
    (_common.RESULTS / "train_run.md").write_text(_markdown(data), encoding="utf-8")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=pathlib.Path, default=REPO / "out" / "train_run", help="the run folder")
    ap.add_argument("--max-steps", type=int, default=None, help="override the step count (quick checks)")
    ap.add_argument("--save", action="store_true", help="write results/train_run.{json,md} and train_curve.png")
    args = ap.parse_args(argv)

    ref = _reference.activate(("train", "generate", "tests.corpus"))
    run_args = list(RUN_ARGS)
    if args.max_steps is not None:
        run_args[run_args.index("--max-steps") + 1] = str(args.max_steps)
        run_args[run_args.index("--warmup-iters") + 1] = str(min(100, args.max_steps // 10))
    if args.out_dir.exists():
        shutil.rmtree(args.out_dir)
    load_start = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    summary = ref.train.main(["--out-dir", str(args.out_dir), *run_args])
    wall = time.perf_counter() - t0
    load_end = [round(x, 2) for x in os.getloadavg()]
    samples = {p: ref.generate.main(["--run-dir", str(args.out_dir), "--prompt", p, *SAMPLE_ARGS]) for p in PROMPTS}
    summary["command"] = summary["command"].replace(str(args.out_dir), "RUN")  # no local paths in results
    summary["train_config"]["checkpoint_path"] = "RUN/checkpoint.pt"
    data = {
        "command": "python -m assignment1_basics.train --out-dir RUN " + " ".join(run_args),
        "wall_s": wall,
        "load_average_start": load_start,
        "load_average_end": load_end,
        "final_val_loss": summary["final_val_loss"],
        "unigram_baseline": summary["unigram_baseline"],
        "beats_baseline_by": summary["unigram_baseline"] - summary["final_val_loss"],
        "summary": summary,
        "samples": samples,
    }
    data = _common.emit("train_run", data, args.save)
    if args.save:
        shutil.copyfile(args.out_dir / "curve.png", _common.RESULTS / "train_curve.png")
        write_markdown(data)
    return data


if __name__ == "__main__":
    main()
