#!/usr/bin/env python3
"""How closely the ONNX Runtime backend follows PyTorch on real recordings.

    python -m benchmarks.onnx_agreement                       # the shipped model, ../shared clips
    python -m benchmarks.onnx_agreement --model exp/p2psyn_packed.zip --model_name teacher --clips DIR

Exports the model (``p2p-codec export``) into a temporary folder, codes every .wav below
``--clips`` (resampled to the model's rate) with both backends, and writes
``benchmarks/RESULTS_onnx.md``: tokens equal (the transmitted streams, and a student's pseudo streams
as each backend predicts them from its own plain tokens), and the largest difference of the audio decoded from the same
tokens (a student's: from its plain stream, and from all 1 + N streams as a language model would give them).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="default: the shipped model")
    parser.add_argument("--model_name", default=None, help="which model of a packed zip (default: student)")
    parser.add_argument("--clips", type=Path, default=ROOT.parent / "shared" / "data" / "real_speech")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_onnx.md")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    from espnet2_p2p import pretrained
    from espnet2_p2p.audio import AudioSource
    from espnet2_p2p.model_io import load_codec
    from espnet2_p2p.onnx import OnnxCodec
    from espnet2_p2p.onnx.export import export

    model = args.model or pretrained.default_model()
    clips = sorted(args.clips.rglob("*.wav"))
    if not clips:
        raise SystemExit(f"no .wav files below {args.clips}")
    codec = load_codec(model, args.model_name).codec
    if codec.side_info_bytes:
        raise SystemExit("this comparison is written for P2PSynCodec models (tests/test_onnx.py covers SecoustiCodec)")
    with tempfile.TemporaryDirectory() as folder:
        export(model, folder, args.model_name)
        onnx = OnnxCodec(folder, threads=1)
        plain = pseudo = plain_n = pseudo_n = 0
        worst = worst_all = seconds = 0.0
        for clip in tqdm(clips, desc="clips"):
            with AudioSource(clip, codec.fs) as src:
                audio = src.read(0, src.num_samples)
            seconds += len(audio) / codec.fs
            x = torch.from_numpy(audio).view(1, 1, -1)
            ref = codec.encode(x)[:, 0].numpy()
            got = onnx.encode(audio, streams="all")
            plain, plain_n = plain + int((ref == got[: len(ref)]).sum()), plain_n + ref.size
            if codec.predicts_streams:
                ref_all = codec.tokens(x)[:, 0].numpy()
                pseudo, pseudo_n = pseudo + int((ref_all[1:] == got[1:]).sum()), pseudo_n + ref_all[1:].size
                wav_all = codec.decode(torch.from_numpy(ref_all).unsqueeze(1), length=len(audio))[0, 0].numpy()
                worst_all = max(worst_all, float(np.abs(onnx.decode(ref_all, len(audio)) - wav_all).max()))
            wav = codec.decode(torch.from_numpy(ref).unsqueeze(1), length=len(audio))[0, 0].numpy()
            worst = max(worst, float(np.abs(onnx.decode(ref, len(audio)) - wav).max()))
    rows = [
        "# ONNX Runtime against PyTorch",
        "",
        f"`python -m benchmarks.onnx_agreement{' --model ' + str(args.model) if args.model else ''}"
        f"{' --model_name ' + args.model_name if args.model_name else ''}`"
        f" on {len(clips)} clips ({seconds:.1f} s) below `{args.clips.name}`; model `{Path(model).name}`.",
        "",
        "| what | agreement |",
        "|---|---|",
        f"| transmitted tokens equal | {plain} of {plain_n} ({100 * plain / plain_n:.2f}%) |",
    ]
    if pseudo_n:
        rows.append(f"| pseudo tokens equal (each backend predicting from its own plain tokens) | {pseudo} of {pseudo_n}"
                    f" ({100 * pseudo / pseudo_n:.2f}%) |")  # fmt: skip
    rows.append(f"| largest abs difference of the audio decoded from the same tokens | {worst:.2e} |")
    if pseudo_n:
        rows.append(f"| the same, decoding all 1 + N streams (`decoder_all.onnx`, nothing predicted) | {worst_all:.2e} |")
    text = "\n".join(rows) + "\n"
    args.output.write_text(text)
    print(text + f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
