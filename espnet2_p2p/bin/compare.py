#!/usr/bin/env python3
"""Decode a data dir with trained codecs and compare them by mel distance.

Each ``--system LABEL:CONFIG:MODEL_FILE[:OPTIONS]`` is loaded through ESPnet
(``GANCodecTask.build_model_from_file``). OPTIONS, comma-separated:
``streams=K`` keeps the first K streams of a teacher's codes (1 = plain-only decoding);
``pseudo_codeword=argmax|expected`` overrides a student's codeword rule.
Each row after the first also gets its paired difference to the first row (mean and
95% CI of the per-utterance differences). For students the table also gives the pseudo-token top-1 accuracy against the
teacher's tokens and the majority-token baseline (the most frequent teacher token of
the evaluated set, per level). Prints a Markdown table (mean and 95% confidence
interval over utterances) and writes it with ``--output``.
"""

import argparse
import math
from pathlib import Path
from typing import List, Optional

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

import espnet2_p2p  # noqa: F401  (registers the codecs)
from espnet2.tasks.gan_codec import GANCodecTask
from espnet2_p2p.metrics import mel_distance


def read_scp(path: Path):
    for line in Path(path).read_text().splitlines():
        if line.strip():
            utt, wav = line.split(maxsplit=1)
            yield utt, wav


def mean_ci95(values: List[float]):
    v = np.asarray(values, dtype=np.float64)
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
    return float(v.mean()), half


def parse_system(spec: str):
    parts = spec.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(
            f"--system wants LABEL:CONFIG:MODEL_FILE[:OPTIONS], got {spec!r}"
        )
    options = {}
    for item in filter(None, (parts[3] if len(parts) == 4 else "").split(",")):
        key, _, value = item.partition("=")
        if key not in ("streams", "pseudo_codeword") or not value:
            raise argparse.ArgumentTypeError(f"unknown --system option {item!r} in {spec!r}")
        options[key] = int(value) if key == "streams" else value
    return parts[0], Path(parts[1]), Path(parts[2]), options


@torch.no_grad()
def decode_system(codec, wav: np.ndarray, n_streams: Optional[int]):
    """Decode one utterance; also return (predicted pseudo tokens, teacher tokens) for a student."""
    x = torch.from_numpy(wav).view(1, 1, -1)
    codes = codec.encode(x)
    if n_streams is not None:
        codes = codes[:n_streams]
    wav_hat = codec.decode(codes, length=len(wav)).view(-1).numpy()
    tokens = None
    if codec.is_student:
        _, z = codec.generator.analyse(x)
        tokens = (codec.tokens(x)[1:, 0], codec.generator.quantizer.encode_residual(z)[1:, 0])
    return wav_hat, tokens


def token_accuracy(pairs) -> List[str]:
    """Per level: 'accuracy (majority baseline)' over all frames of all utterances."""
    predicted = torch.cat([p for p, _ in pairs], dim=1)
    target = torch.cat([t for _, t in pairs], dim=1)
    cells = []
    for level, (p, t) in enumerate(zip(predicted, target), start=1):
        majority = torch.bincount(t).max().item() / t.numel()
        cells.append(f"{level}: {(p == t).float().mean().item():.3f} ({majority:.3f})")
    return cells


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True, help="Kaldi dir with wav.scp")
    parser.add_argument("--system", type=parse_system, action="append", required=True)
    parser.add_argument("--output", type=Path, help="write the Markdown table here")
    args = parser.parse_args(argv)

    utts = list(read_scp(args.data_dir / "wav.scp"))
    rows, reference = [], None
    for label, config, model_file, options in args.system:
        model, _ = GANCodecTask.build_model_from_file(config, model_file, "cpu")
        codec = model.eval().codec
        if "pseudo_codeword" in options:
            codec.generator.quantizer.pseudo_codeword = options["pseudo_codeword"]
        n_streams = options.get("streams")
        info = codec.meta_info()
        bits = sum(math.log2(k) for k in info["code_size_per_stream"][: n_streams or None])
        kbps = bits * info["fs"] / info["frame_shift"] / 1000
        dists, pairs = [], []
        for utt, path in tqdm(utts, desc=label):
            wav, fs = sf.read(path, dtype="float32")
            if fs != info["fs"]:
                raise SystemExit(f"{utt}: {path} is {fs} Hz, the codec needs {info['fs']} Hz")
            wav_hat, tokens = decode_system(codec, wav, n_streams)
            dists.append(mel_distance(wav, wav_hat, fs))
            if tokens is not None:
                pairs.append(tokens)
        mean, half = mean_ci95(dists)
        if reference is None:
            reference, paired = dists, "-"
        else:  # paired over the same utterances: much tighter than the two CIs
            d_mean, d_half = mean_ci95([a - b for a, b in zip(dists, reference)])
            paired = f"{d_mean:+.3f} ± {d_half:.3f}"
        acc = "<br>".join(token_accuracy(pairs)) if pairs else "-"
        rows.append(
            f"| {label} | {kbps:.2f} | {mean:.3f} ± {half:.3f} | {paired} | {acc} | {len(dists)} |"
        )
    table = "\n".join(
        [
            "| system | kbps | mel distance (mean ± 95% CI) | paired difference to the first row |"
            " pseudo-token top-1 (majority) | utterances |",
            "|---|---|---|---|---|---|",
        ]
        + rows
    )
    print(table)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(table + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
