#!/usr/bin/env python3
"""SecoustiCodec streaming: measured latency, real-time factors, streaming vs offline.

    python -m benchmarks.secousti_stream [--threads 1] [--seconds 10] [--output benchmarks/RESULTS_secousti.md]

For the tiny and paper-scale configs (random weights; speed and latency do not depend on
training):

- latency, measured: audio is fed to ``encode_stream`` and the tokens to
  ``decode_stream`` one piece of ``k`` code frames at a time; for every output sample s,
  the input samples that had been fed when s came out, minus s, over s/fs. Reported as
  the maximum and the mean over the signal (the first sample of a frame waits longest);
  compared with the algorithmic latency the model states (hop + MDCT hop).
- real-time factor of streaming with pieces of 1, 3 and 10 frames, and of whole-input
  (offline) coding, on ``--threads`` CPU threads, median of ``--runs``;
- the largest difference between streamed and offline output.
"""

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch

import espnet2_p2p  # noqa: F401
from espnet2_p2p.codec.secousti import SecoustiCodec
from espnet2_p2p.utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def build(config: str) -> SecoustiCodec:
    conf = load_config(ROOT / "conf" / config)["codec_conf"]
    torch.manual_seed(0)
    return SecoustiCodec(**conf).eval()


@torch.no_grad()
def run_stream(codec, x, g, k: int):
    """Returns (output, input samples fed when each output sample came out)."""
    hop = codec.hop_length
    enc, dec = codec.encode_stream(), codec.decode_stream(g, batch=1)
    outs, fed_at = [], []
    for start in range(0, x.shape[-1], k * hop):
        piece = x[..., start : start + k * hop]
        y = dec(enc(piece))
        outs.append(y)
        fed_at.append(torch.full((y.shape[-1],), start + piece.shape[-1]))
    y = dec(enc.flush())
    outs.append(y)
    fed_at.append(torch.full((y.shape[-1],), x.shape[-1]))
    tail = dec.flush(x.shape[-1])
    outs.append(tail)
    fed_at.append(torch.full((tail.shape[-1],), x.shape[-1]))
    return torch.cat(outs, -1)[..., : x.shape[-1]], torch.cat(fed_at)[: x.shape[-1]]


@torch.no_grad()
def measure(codec, x, g, pieces, runs: int, offline) -> dict:
    """Latency (ms) of pieces of one frame, max |stream - offline| over ``pieces``, and the
    real-time factors of offline coding (``offline()``) and of streaming in each piece size."""
    fs = codec.fs
    reference = offline()
    _, fed = run_stream(codec, x, g, 1)
    lag = (fed - torch.arange(x.shape[-1])).double() / fs * 1000
    diff = max(float((run_stream(codec, x, g, k)[0] - reference).abs().max()) for k in pieces)
    seconds = x.shape[-1] / fs
    rtf = {"offline": timed(offline, runs) / seconds}
    for k in pieces:
        rtf[k] = timed(lambda: run_stream(codec, x, g, k), runs) / seconds
    return dict(lag_max=float(lag.max()), lag_mean=float(lag.mean()), diff=diff, rtf=rtf)


def timed(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--configs", default="secousti_tiny.yaml,secousti.yaml")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_secousti.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from benchmarks.provenance import RANDOM

    lines = [
        RANDOM,
        "",
        "# SecoustiCodec streaming",
        "",
        f"`python -m benchmarks.secousti_stream --threads {args.threads} --seconds {args.seconds:g} --runs {args.runs}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s);"
        f" {args.seconds:g} s of noise-like input, random weights.",
        "",
        "| config | params | hop (samples) | stated latency (ms) | measured latency max / mean (ms) |"
        " RTF offline | RTF stream k=1 | k=3 | k=10 | max abs(stream - offline) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config in args.configs.split(","):
        codec = build(config)
        fs = codec.fs
        torch.manual_seed(1)
        x = torch.randn(1, 1, int(args.seconds * fs)) * 0.1
        g = codec.reference(x)
        m = measure(codec, x, g, (1, 3, 10), args.runs, lambda: codec.decode(codec.encode(x), g, length=x.shape[-1]))
        params = sum(p.numel() for p in codec.generator.parameters()) / 1e6
        lines.append(
            f"| {config} | {params:.2f} M | {codec.hop_length} | {1000 * codec.latency_samples / fs:.1f} |"
            f" {m['lag_max']:.1f} / {m['lag_mean']:.1f} | {m['rtf']['offline']:.4f} |"
            f" {m['rtf'][1]:.4f} | {m['rtf'][3]:.4f} | {m['rtf'][10]:.4f} | {m['diff']:.2e} |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        "Measured latency: for each output sample, the input that had been fed when it came out, minus",
        "its own time (pieces of one code frame). RTF: compute seconds per second of audio (encode +",
        "decode, the paralinguistic vector computed once beforehand).",
    ]
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
