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
    from espnet2_p2p.coding.coder import TorchCoder, open_coder
    from espnet2_p2p.model_io import load_codec
    from espnet2_p2p.onnx.export import export

    model = args.model or pretrained.default_model()
    clips = sorted(args.clips.rglob("*.wav"))
    if not clips:
        raise SystemExit(f"no .wav files below {args.clips}")
    ours = TorchCoder(load_codec(model, args.model_name).codec)
    layout = ours.layout

    def decoded(coder, codes, num_samples, side):
        pieces = []
        coder.decode_file(codes, num_samples, pieces.append, side_info=side)
        return np.concatenate(pieces)

    with tempfile.TemporaryDirectory() as folder:
        export(model, folder, args.model_name)
        onnx = open_coder(folder, "onnxruntime", threads=1)
        plain = pseudo = plain_n = pseudo_n = 0
        worst = worst_all = seconds = 0.0
        for clip in tqdm(clips, desc="clips"):
            with AudioSource(clip, layout.fs) as src:
                audio = src.read(0, src.num_samples)
            n = len(audio)
            seconds += n / layout.fs
            ref, side = ours.encode_file(lambda a, b: audio[a:b], n, "all")
            got, _ = onnx.encode_file(lambda a, b: audio[a:b], n, "all")
            sent = layout.transmitted_streams
            plain, plain_n = plain + int((ref[:sent] == got[:sent]).sum()), plain_n + ref[:sent].size
            if layout.predicts_streams:
                pseudo, pseudo_n = pseudo + int((ref[sent:] == got[sent:]).sum()), pseudo_n + ref[sent:].size
                worst_all = max(
                    worst_all, float(np.abs(decoded(onnx, ref, n, side) - decoded(ours, ref, n, side)).max())
                )
            worst = max(
                worst, float(np.abs(decoded(onnx, ref[:sent], n, side) - decoded(ours, ref[:sent], n, side)).max())
            )
    from benchmarks.provenance import model_line

    rows = [
        model_line(model, f" ({args.model_name or 'student'})"),
        "",
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
        rows.append(
            f"| pseudo tokens equal (each backend predicting from its own plain tokens) | {pseudo} of {pseudo_n}"
            f" ({100 * pseudo / pseudo_n:.2f}%) |"
        )
    rows.append(f"| largest abs difference of the audio decoded from the same tokens | {worst:.2e} |")
    if pseudo_n:
        rows.append(
            f"| the same, decoding all 1 + N streams (`decoder_all.onnx`, nothing predicted) | {worst_all:.2e} |"
        )
    text = "\n".join(rows) + "\n"
    args.output.write_text(text)
    print(text + f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
