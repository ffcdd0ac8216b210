#!/usr/bin/env python3
"""Decode a data dir with trained codecs into folders of wavs, for the scorer.

    python -m espnet2_p2p.bin.decode --data_dir data/test --output_dir exp/decode \
        --system "student:exp/student/config.yaml:exp/student/valid.ce_loss.best.pth" \
        --system "plain:exp/teacher/config.yaml:exp/teacher/valid.mel_l1_loss.best.pth:streams=1"

Each ``--system LABEL:CONFIG:MODEL_FILE[:OPTIONS]`` is loaded through ESPnet
(``GANCodecTask.build_model_from_file``) and writes ``OUTPUT_DIR/LABEL/<utt>.wav``.
OPTIONS, comma-separated: ``streams=K`` keeps the first K streams of a teacher's codes
(1 = plain-only decoding); ``pseudo_codeword=argmax|expected`` overrides a student's
codeword rule. For students, ``OUTPUT_DIR/token_accuracy.md`` gives the pseudo-token
top-1 accuracy against the teacher's tokens and the majority-token baseline (the most
frequent teacher token of the decoded set, per level), and every system's bitrate from
the number of code frames actually produced (``bitrate.md``).
Score the folders with ``python -m espnet2_p2p.bin.score``.
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
from espnet2_p2p.data.prepare import read_table


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
    """Decode one utterance.

    Returns:
        (decoded wav, (predicted pseudo tokens, teacher tokens) for a student else None,
        number of code frames transmitted).
    """
    x = torch.from_numpy(wav).view(1, 1, -1)
    codes = codec.encode(x)
    if n_streams is not None:
        codes = codes[:n_streams]
    wav_hat = codec.decode(codes, length=len(wav)).view(-1).numpy()
    tokens = None
    if codec.is_student:
        _, z = codec.generator.analyse(x)
        tokens = (codec.tokens(x)[1:, 0], codec.generator.quantizer.encode_residual(z)[1:, 0])
    return wav_hat, tokens, codes.shape[-1]


def token_accuracy(pairs) -> List[str]:
    """Per level: 'level: accuracy (majority baseline)' over all frames of all utterances."""
    predicted = torch.cat([p for p, _ in pairs], dim=1)
    target = torch.cat([t for _, t in pairs], dim=1)
    cells = []
    for level, (p, t) in enumerate(zip(predicted, target), start=1):
        majority = torch.bincount(t).max().item() / t.numel()
        cells.append(f"{level}: {(p == t).float().mean().item():.3f} ({majority:.3f})")
    return cells


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", type=Path, required=True, help="Kaldi dir with wav.scp")
    parser.add_argument("--system", type=parse_system, action="append", required=True)
    parser.add_argument("--output_dir", type=Path, required=True)
    args = parser.parse_args(argv)

    utts = list(read_table(args.data_dir / "wav.scp").items())
    accuracy, rates = [], []
    for label, config, model_file, options in args.system:
        model, _ = GANCodecTask.build_model_from_file(config, model_file, "cpu")
        codec = model.eval().codec
        if "pseudo_codeword" in options:
            codec.generator.quantizer.pseudo_codeword = options["pseudo_codeword"]
        n_streams = options.get("streams")
        info = codec.meta_info()
        bits_per_frame = sum(math.log2(k) for k in info["code_size_per_stream"][: n_streams or None])
        out_dir = args.output_dir / label
        out_dir.mkdir(parents=True, exist_ok=True)
        pairs, frames, seconds = [], 0, 0.0
        for utt, path in tqdm(utts, desc=f"decoding {label}"):
            wav, fs = sf.read(path, dtype="float32")
            if fs != info["fs"]:
                raise SystemExit(f"decode: {utt}: {path} is {fs} Hz, the codec needs {info['fs']} Hz")
            wav_hat, tokens, n_frames = decode_system(codec, wav, n_streams)
            sf.write(str(out_dir / f"{utt}.wav"), wav_hat, fs, subtype="FLOAT")
            frames += n_frames
            seconds += len(wav) / fs
            if tokens is not None:
                pairs.append(tokens)
        rates.append(f"| {label} | {frames * bits_per_frame / seconds:.1f} |")
        if pairs:
            accuracy.append(f"| {label} | " + "<br>".join(token_accuracy(pairs)) + " |")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "bitrate.md").write_text(
        "| system | bit/s of the transmitted token payload (measured) |\n|---|---|\n"
        + "\n".join(rates) + "\n"
    )
    if accuracy:
        (args.output_dir / "token_accuracy.md").write_text(
            "| system | pseudo-token top-1 per level (majority baseline) |\n|---|---|\n"
            + "\n".join(accuracy) + "\n"
        )
    print(f"wrote {len(args.system)} systems x {len(utts)} utterances to {args.output_dir}")


if __name__ == "__main__":
    main()
