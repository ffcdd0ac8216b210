#!/usr/bin/env python3
"""Causal P2PSynCodec streaming: measured latency, real-time factors, streaming vs offline.

    python -m benchmarks.p2psyn_stream [--threads 1] [--seconds 10] [--output benchmarks/RESULTS_p2psyn_stream.md]

For the causal tiny and small configs, teacher (2 kbps, all 1 + N streams sent) and student
(0.5 kbps, the N pseudo VQs predicted while decoding), random weights (speed and latency do
not depend on training), measured as ``benchmarks/secousti_stream.py`` measures
SecoustiCodec: audio fed to ``encode_stream`` and the tokens to ``decode_stream`` in pieces
of ``k`` code frames (k = 1 is 20 ms); the latency of every output sample (input fed when it
came out, minus its own time), the real-time factor of streaming and of offline coding on
``--threads`` threads (median of ``--runs``), and the largest difference between streamed
and offline output.
"""

import argparse
import platform
from pathlib import Path

import torch

import espnet2_p2p  # noqa: F401
from benchmarks.secousti_stream import measure
from espnet2_p2p.codec.p2psyn import P2PSynCodec
from espnet2_p2p.utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "tiny": ("teacher_tiny.yaml", "student_tiny.yaml"),
    "small": ("teacher_causal_small.yaml", "student_causal_small.yaml"),
}
PIECES = (1, 2, 5)


def build(config: str) -> P2PSynCodec:
    conf = load_config(ROOT / "conf" / config)["codec_conf"]
    conf["causal"] = True
    torch.manual_seed(0)
    return P2PSynCodec(**conf).eval()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_p2psyn_stream.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from benchmarks.provenance import RANDOM

    lines = [
        RANDOM,
        "",
        "# Causal P2PSynCodec streaming",
        "",
        f"`python -m benchmarks.p2psyn_stream --threads {args.threads} --seconds {args.seconds:g} --runs {args.runs}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s);"
        f" {args.seconds:g} s of noise-like input, random weights, `causal: true`.",
        "",
        "| config | model | params | stated latency (ms) | measured latency max / mean (ms) | RTF offline |"
        + "".join(f" RTF stream k={k} |" for k in PIECES)
        + " max abs(stream - offline) |",
        "|---|---|---|---|---|---|" + "---|" * len(PIECES) + "---|",
    ]
    for size, configs in CONFIGS.items():
        for role, config in zip(("teacher", "student"), configs):
            codec = build(config)
            fs = codec.fs
            torch.manual_seed(1)
            x = torch.randn(1, 1, int(args.seconds * fs)) * 0.1
            m = measure(codec, x, None, PIECES, args.runs, lambda: codec.decode(codec.encode(x), length=x.shape[-1]))
            params = sum(p.numel() for p in codec.generator.parameters()) / 1e6
            lines.append(
                f"| {size} ({config}) | {role} | {params:.2f} M | {1000 * codec.latency_samples / fs:.1f} |"
                f" {m['lag_max']:.1f} / {m['lag_mean']:.1f} | {m['rtf']['offline']:.4f} |"
                + "".join(f" {m['rtf'][k]:.4f} |" for k in PIECES)
                + f" {m['diff']:.2e} |"
            )
            print(lines[-1], flush=True)
    lines += [
        "",
        "Measured latency: for each output sample, the input that had been fed when it came out, minus",
        "its own time (pieces of one code frame, 20 ms). RTF: compute seconds per second of audio",
        "(encode + decode; the student's decode includes the pseudo-VQ prediction).",
    ]
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
