#!/usr/bin/env python3
"""What each token choice costs a speech LM: cross-entropy per token and bits per second
of speech on a test set, from ESPnet's LM trainings and ``lm_calc_perplexity``.

    python -m espnet2_p2p.bin.speechlm_report --data_dir dump/test \\
        --choice "plain stream (student)=exp/lm_plain,exp/lm_plain/ppl_test,exp/tokens_plain/test" \\
        --choice "..." --output RESULTS_speechlm.md

Each ``--choice LABEL=LM_EXP,PPL_DIR,TOKEN_DIR``: the LM's experiment dir (``train.log``,
``config.yaml``, a checkpoint), the output dir of ``espnet2.bin.lm_calc_perplexity`` on the
test set (``utt2ppl``, ``utt2ntokens``: ESPnet counts each utterance's tokens plus its
end-of-sentence) and the test set's token dump (``lm_text``). Per choice:

- tokens/s: tokens of the test utterances over their duration (``utt2num_samples``);
- CE/token: the test set's total negative log-likelihood over its tokens and
  end-of-sentence symbols, in nats and in bits;
- bits/s: the total negative log-likelihood in bits over the speech's duration (what an
  ideal entropy coder driven by the LM would spend, end-of-sentence included);
- the LM's parameters, its vocabulary, epochs and training time (from ``train.log``).
"""

import argparse
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet2_p2p.data.prepare import read_table

def test_nll(ppl_dir: Path) -> Dict[str, tuple]:
    """{utt: (negative log-likelihood in nats, tokens incl. end-of-sentence)} from
    lm_calc_perplexity's output (its perplexity is exp(nll / tokens) whatever --log_base)."""
    ppl, ntok = read_table(ppl_dir / "utt2ppl"), read_table(ppl_dir / "utt2ntokens")
    return {u: (math.log(float(ppl[u])) * int(ntok[u]), int(ntok[u])) for u in ppl}


def training(lm_exp: Path) -> dict:
    """Epochs, hours and parameter count of an LM experiment."""
    from espnet2_p2p.bin.learning_curve import read_curve

    log = lm_exp / "train.log"
    curve = read_curve(log, "loss") if log.is_file() else []  # training wall time per epoch
    params = None
    checkpoints = sorted(lm_exp.glob("*.best.pth")) or sorted(lm_exp.glob("*epoch.pth"))
    if checkpoints:
        import torch

        state = torch.load(checkpoints[-1], map_location="cpu", weights_only=True)
        params = sum(v.numel() for v in state.values() if hasattr(v, "numel"))
    vocab = None
    config = lm_exp / "config.yaml"
    if config.is_file():
        import yaml

        vocab = len(yaml.safe_load(config.read_text()).get("token_list") or []) or None
    return dict(epochs=len(curve), hours=curve[-1].hours if curve else 0.0, params=params, vocab=vocab)


def measure(ppl_dir: Path, token_dir: Path, samples: Dict[str, str], fs: int) -> dict:
    nll = test_nll(ppl_dir)
    tokens = {}
    for line in (token_dir / "lm_text").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in nll:
            tokens[parts[0]] = len(parts) - 1
    missing = sorted(set(nll) - set(tokens) | set(nll) - set(samples))
    if missing:
        raise SystemExit(f"speechlm_report: {len(missing)} utterances of {ppl_dir} have no tokens or duration"
                         f" (e.g. {missing[0]})")  # fmt: skip
    seconds = sum(int(samples[u]) for u in nll) / fs
    total_nll = sum(v for v, _ in nll.values())
    total_tokens = sum(n for _, n in nll.values())
    return dict(utts=len(nll), seconds=seconds, tokens_per_s=sum(tokens.values()) / seconds,
                ce_nats=total_nll / total_tokens, bits_per_s=total_nll / math.log(2) / seconds)  # fmt: skip


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True, help="the test set's data dir (utt2num_samples)")
    parser.add_argument("--fs", type=int, default=16000)
    parser.add_argument("--choice", action="append", required=True, help="LABEL=LM_EXP,PPL_DIR,TOKEN_DIR")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    samples = read_table(args.data_dir / "utt2num_samples")
    rows: List[str] = []
    for spec in args.choice:
        label, _, paths = spec.partition("=")
        parts = [Path(p) for p in paths.split(",")]
        if len(parts) != 3:
            raise SystemExit(f"speechlm_report: --choice {spec!r}: expected LABEL=LM_EXP,PPL_DIR,TOKEN_DIR")
        lm_exp, ppl_dir, token_dir = parts
        r, t = measure(ppl_dir, token_dir, samples, args.fs), training(lm_exp)
        params = f"{t['params'] / 1e6:.2f} M" if t["params"] else "?"
        rows.append(f"| {label} | {r['tokens_per_s']:.1f} | {r['ce_nats']:.3f} | {r['ce_nats'] / math.log(2):.3f}"
                    f" | {r['bits_per_s']:.1f} | {t['vocab'] or '?'} | {params} | {t['epochs']} | {t['hours']:.2f} |")  # fmt: skip
    table = ("| token choice | tokens/s | CE/token (nats) | CE/token (bits) | bits/s of speech | vocabulary"
             " | LM parameters | epochs | training hours |\n|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")  # fmt: skip
    args.output.write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
