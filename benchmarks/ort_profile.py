"""Where ONNX Runtime spends its time in the exported codec: milliseconds per operator type.

    python -m benchmarks.ort_profile [--model paper|small] [--seconds 10] [--runs 3]
        [--output benchmarks/RESULTS_ort_profile.md]

Exports the student (``paper``: the paper-scale ``conf/student.yaml`` with random weights,
as ``benchmarks.codec_speed`` builds it; ``small``: the shipped model), runs its encoder
and its decoder (with the pseudo-VQ prediction) on ``--seconds`` of input, one thread,
with ONNX Runtime's profiler, and sums the kernel time of each operator type over
``--runs`` runs after a warm-up. The table shows what each graph is made of after ONNX
Runtime's own optimisations (fused kernels appear under their fused names), so the
effect of a change to the exported graphs can be read by running this before and after.
A ``Scan`` (the predictors' blocked attention) holds its body's kernels, which are also
listed under their own names: its share is of the total without it.
"""

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def profile(path: Path, feed: dict, runs: int) -> tuple:
    """(wall seconds per run, {op type: kernel seconds per run}) of one graph."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.gettempdir()) / f"ort_profile_{os.getpid()}")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.run(None, feed)  # warm-up: left out below
    start = time.perf_counter()
    for _ in range(runs):
        session.run(None, feed)
    wall = (time.perf_counter() - start) / runs
    trace = Path(session.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    # the warm-up's events come first: keep the last ``runs`` model_run spans' kernels
    spans = [e for e in events if e.get("name") == "model_run"]
    first = spans[-runs]["ts"] if len(spans) >= runs else 0
    per_op: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= first:
            per_op[e["args"]["op_name"]] += e["dur"] / 1e6 / runs
    return wall, per_op


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("paper", "small"), default="paper")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=12, help="operator types listed per graph")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_ort_profile.md")
    args = parser.parse_args(argv)
    import subprocess

    import torch

    from benchmarks.codec_speed import _model
    from benchmarks.tables import markdown_table
    from espnet2_p2p.onnx.export import export_codec

    torch.set_num_threads(1)
    model = _model(args.model, "cpu")
    codec = model.codec
    frames = int(np.ceil(args.seconds * codec.fs / codec.hop_length))
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((1, 1, frames * codec.hop_length))).astype(np.float32)
    codes = rng.integers(0, codec.layout.stream_sizes[0], (1, 1, frames)).astype(np.int64)
    rows, totals = [], []
    with tempfile.TemporaryDirectory() as tmp:
        export_codec(model, tmp, max_seconds=args.seconds + 1)
        for graph, feed in (("encoder", {"audio": audio}), ("decoder", {"codes": codes})):
            wall, per_op = profile(Path(tmp) / f"{graph}.onnx", feed, args.runs)
            # a Scan's time holds its body's kernels, which are profiled (and listed) too
            kernels = sum(v for op, v in per_op.items() if op != "Scan")
            totals.append(
                (f"{graph}.onnx", f"{1000 * wall:.1f}", f"{wall / args.seconds:.4f}", f"{1000 * kernels:.1f}")
            )
            for op, sec in per_op.most_common(args.top):
                rows.append((f"{graph}.onnx", op, f"{1000 * sec:.1f}", f"{100 * sec / kernels:.1f}%"))
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    from benchmarks.provenance import RANDOM, model_line
    from espnet2_p2p import pretrained

    text = (
        (RANDOM if args.model == "paper" else model_line(pretrained.default_model(), " (its student)")) + "\n\n"
        "# Where ONNX Runtime spends its time\n\n"
        f"Produced by `python -m benchmarks.ort_profile --model {args.model} --seconds {args.seconds:g} --runs {args.runs}`"
        f" at commit {commit or '?'}: the {'paper-scale' if args.model == 'paper' else 'shipped'} student, one thread,"
        f" {args.seconds:g} s of input, mean of {args.runs} runs after a warm-up. Load average when it ran:"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.\n\n"
        + markdown_table(["graph", "ms a run", "RTF", "kernel ms a run (profiled)"], totals)
        + "\n"
        + markdown_table(["graph", "operator (after ONNX Runtime's fusions)", "kernel ms a run", "share"], rows)
    )
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
