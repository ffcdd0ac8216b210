#!/usr/bin/env python3
"""Decode a data dir with trained codecs and compare them by mel distance.

Each ``--system LABEL:CONFIG:MODEL_FILE[:N_STREAMS]`` is loaded through ESPnet
(``GANCodecTask.build_model_from_file``); N_STREAMS keeps only the first streams of
the codes (``1`` = plain-only decoding of a teacher). Prints a Markdown table
(mean and 95% confidence interval over utterances) and writes it with ``--output``.
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
            f"--system wants LABEL:CONFIG:MODEL_FILE[:N_STREAMS], got {spec!r}"
        )
    n_streams = int(parts[3]) if len(parts) == 4 else None
    return parts[0], Path(parts[1]), Path(parts[2]), n_streams


@torch.no_grad()
def decode_system(model, wav: np.ndarray, n_streams: Optional[int]) -> np.ndarray:
    codec = model.codec
    x = torch.from_numpy(wav).view(1, 1, -1)
    codes = codec.encode(x)
    if n_streams is not None:
        codes = codes[:n_streams]
    return codec.decode(codes, length=len(wav)).view(-1).numpy()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True, help="Kaldi dir with wav.scp")
    parser.add_argument("--system", type=parse_system, action="append", required=True)
    parser.add_argument("--output", type=Path, help="write the Markdown table here")
    args = parser.parse_args(argv)

    utts = list(read_scp(args.data_dir / "wav.scp"))
    rows = []
    for label, config, model_file, n_streams in args.system:
        model, _ = GANCodecTask.build_model_from_file(config, model_file, "cpu")
        model.eval()
        info = model.codec.meta_info()
        streams = n_streams or info["num_streams"]
        bits = sum(math.log2(k) for k in info["code_size_per_stream"][:streams])
        kbps = bits * info["fs"] / info["frame_shift"] / 1000
        dists = []
        for utt, path in tqdm(utts, desc=label):
            wav, fs = sf.read(path, dtype="float32")
            if fs != info["fs"]:
                raise SystemExit(f"{utt}: {path} is {fs} Hz, the codec needs {info['fs']} Hz")
            dists.append(mel_distance(wav, decode_system(model, wav, n_streams), fs))
        mean, half = mean_ci95(dists)
        rows.append(f"| {label} | {kbps:.2f} | {mean:.3f} ± {half:.3f} | {len(dists)} |")
    table = "\n".join(
        ["| system | kbps | mel distance (mean ± 95% CI) | utterances |", "|---|---|---|---|"] + rows
    )
    print(table)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(table + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
