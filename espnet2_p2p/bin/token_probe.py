#!/usr/bin/env python3
"""Codebook usage and a speaker-leakage probe on a codec's semantic tokens.

    python -m espnet2_p2p.bin.token_probe --model exp/secousti --data_dir dump/train \
        --output exp/secousti/probe.md [--model exp/secousti_nocontrast --name ...]

For each model: the share of the codebook its tokens use on the set, the entropy and
perplexity of the token histogram, and a *linear speaker classifier* on the tokens.
Features of a frame are the one-hot FSQ digits of its token (``len(levels) x L``
values: the token itself, written so that a linear model can use it); an utterance is
the mean of its frames' features. For every speaker with at least two utterances, the
utterances alternate between the probe's training and test halves; a multinomial
logistic regression (fixed seed, full-batch L-BFGS) is trained on one half and scored
on the other, per frame and per utterance, beside the majority-class rate. Lower
accuracy = less speaker information in the tokens.
"""

import argparse
import logging
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

import soundfile as sf
import torch
from tqdm import tqdm

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import one_line_errors
from espnet2_p2p.model_io import load_codec
from espnet2_p2p.quantizer.fsq import codebook_usage


@torch.no_grad()
def set_tokens(codec, wavs: Dict[str, str]) -> Dict[str, torch.Tensor]:
    out = {}
    for key in tqdm(sorted(wavs), desc="tokens"):
        audio, fs = sf.read(wavs[key], dtype="float32", always_2d=True)
        if fs != codec.fs:
            raise SystemExit(f"{key}: {fs} Hz, the codec wants {codec.fs} Hz")
        out[key] = codec.encode(torch.from_numpy(audio.mean(1)).view(1, 1, -1))[0, 0]
    return out


def digit_features(codes: torch.Tensor, levels: List[int]) -> torch.Tensor:
    """Tokens (T,) -> one-hot FSQ digits (T, sum(levels))."""
    feats, base = [], 1
    for lv in levels:
        digit = (codes // base) % lv
        feats.append(torch.nn.functional.one_hot(digit, lv).float())
        base *= lv
    return torch.cat(feats, dim=-1)


def _fit_predict(x_tr, y_tr, x_te, classes: int, seed: int = 0, l2: float = 1e-3):
    torch.manual_seed(seed)
    mean, std = x_tr.mean(0), x_tr.std(0).clamp(min=1e-3)
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    model = torch.nn.Linear(x_tr.shape[1], classes)
    opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x_tr), y_tr) + l2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return model(x_te).argmax(-1)


def speaker_probe(tokens: Dict[str, torch.Tensor], utt2spk: Dict[str, str], levels: List[int]) -> dict:
    by_spk = defaultdict(list)
    for key in sorted(tokens):
        by_spk[utt2spk[key]].append(key)
    speakers = sorted(s for s, keys in by_spk.items() if len(keys) >= 2)
    if len(speakers) < 2:
        raise SystemExit("the speaker probe needs at least 2 speakers with 2 utterances each")
    sid = {s: i for i, s in enumerate(speakers)}
    split = {"train": [], "test": []}
    for s in speakers:
        for i, key in enumerate(by_spk[s]):
            split["train" if i % 2 == 0 else "test"].append(key)

    def frames(keys):
        x = torch.cat([digit_features(tokens[k], levels) for k in keys])
        y = torch.cat([torch.full((len(tokens[k]),), sid[utt2spk[k]]) for k in keys])
        return x, y

    def utts(keys):
        x = torch.stack([digit_features(tokens[k], levels).mean(0) for k in keys])
        return x, torch.tensor([sid[utt2spk[k]] for k in keys])

    result = {"speakers": len(speakers), "train_utts": len(split["train"]), "test_utts": len(split["test"])}
    for name, make in (("frame", frames), ("utterance", utts)):
        x_tr, y_tr = make(split["train"])
        x_te, y_te = make(split["test"])
        pred = _fit_predict(x_tr, y_tr, x_te, len(speakers))
        result[f"{name}_accuracy"] = float((pred == y_te).float().mean())
        result[f"{name}_majority"] = float(torch.bincount(y_te).max() / len(y_te))
    return result


@one_line_errors("token_probe")
def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="exp dir / packed zip / .pth (repeatable)")
    parser.add_argument("--name", action="append", help="row name per --model")
    parser.add_argument("--data_dir", type=Path, required=True, help="holds wav.scp and utt2spk")
    parser.add_argument("--output", type=Path, required=True, help="Markdown table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    names = args.name or [Path(m).name for m in args.model]
    if len(names) != len(args.model):
        raise SystemExit("give one --name per --model")
    wavs = read_table(args.data_dir / "wav.scp")
    utt2spk = read_table(args.data_dir / "utt2spk")
    rows = [
        "| model | codes | used | usage | entropy (bits) | perplexity | speakers | frame probe acc. |"
        " frame majority | utterance probe acc. | utterance majority |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, model in zip(names, args.model):
        codec = load_codec(model).eval().codec
        levels = codec.fsq_levels
        tokens = set_tokens(codec, wavs)
        usage = codebook_usage(torch.cat(list(tokens.values())), codec.codebook_size)
        probe = speaker_probe(tokens, utt2spk, levels)
        logging.info("%s: usage %s, probe %s", name, usage, probe)
        rows.append(
            f"| {name} | {codec.codebook_size} | {usage['used']} | {100 * usage['usage']:.1f}% |"
            f" {usage['entropy_bits']:.2f} | {usage['perplexity']:.0f} | {probe['speakers']} |"
            f" {probe['frame_accuracy']:.3f} | {probe['frame_majority']:.3f} |"
            f" {probe['utterance_accuracy']:.3f} | {probe['utterance_majority']:.3f} |"
        )
    text = "\n".join(
        [f"# Token usage and speaker probe on `{args.data_dir}`", "", f"{len(wavs)} utterances, {usage['frames']} frames.", ""]
        + rows
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
