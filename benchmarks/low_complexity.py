"""Configs against a low-complexity speech-coding budget (issue 31, item 5).

    python -m benchmarks.low_complexity [conf/student_causal_small.yaml ...]

The LRAC 2025 challenge (arXiv 2510.00264) asks for at most about 700 MFLOPs per second of
audio in total, at most 30 ms of algorithmic latency and a sub-1 kbps mode. For each
config: FLOPs per second of audio of encoding and of decoding (with the pseudo-VQ
prediction; ``torch.utils.flop_counter`` on 10 s, untrained weights: FLOPs do not depend
on them), the algorithmic latency, the bitrate, whether it streams exactly, and whether it
is inside the budget.
"""

import argparse
import sys

BUDGET_GFLOPS, BUDGET_MS = 0.7, 30.0


def measure(config_path: str, seconds: float = 10.0) -> dict:
    import torch
    from espnet2.tasks.gan_codec import GANCodecTask

    import espnet2_p2p  # noqa: F401
    from benchmarks.codec_speed import gflops
    from espnet2_p2p.utils.config import load_config

    torch.manual_seed(0)
    cfg = load_config(config_path)
    args = argparse.Namespace(codec=cfg["codec"], codec_conf=cfg["codec_conf"], model_conf={})
    codec = GANCodecTask.build_model(args).codec.eval()
    samples = int(seconds * codec.fs)
    x = 0.1 * torch.randn(1, 1, samples)
    with torch.no_grad():
        codes = codec.encode(x)
        enc = gflops(lambda: codec.encode(x)) / seconds
        dec = gflops(lambda: codec.decode(codes, length=samples)) / seconds
    try:
        latency_ms = 1000 * codec.latency_samples / codec.fs
    except ValueError:  # an offline codec needs its whole input: it does not stream
        latency_ms = float("inf")
    streams = latency_ms < float("inf")
    inside = enc + dec <= BUDGET_GFLOPS and latency_ms <= BUDGET_MS and codec.bitrate() < 1000 and streams
    return dict(
        config=config_path,
        enc=enc,
        dec=dec,
        latency_ms=latency_ms,
        bitrate=codec.bitrate(),
        streaming=streams,
        inside=inside,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", default=["conf/student_causal_small.yaml", "conf/student_small.yaml"])
    args = parser.parse_args(argv)
    print(
        "| config | GFLOPs/s encode | GFLOPs/s decode | total | latency (ms) | bit/s | streams exactly | inside the budget |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for path in args.configs:
        r = measure(path)
        print(
            f"| {r['config']} | {r['enc']:.3f} | {r['dec']:.3f} | {r['enc'] + r['dec']:.3f} | {r['latency_ms']:.1f}"
            f" | {r['bitrate']:g} | {'yes' if r['streaming'] else 'no'} | {'yes' if r['inside'] else 'no'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
