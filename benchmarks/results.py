"""Regenerate every RESULTS file that describes the shipped model (``make results``).

    python -m benchmarks.results [--test_data egs2/speechocean762/codec1/dump/test] [--only NAME,...] [--list]

Each step below runs with no ``--model``, so it measures ``espnet2_p2p.pretrained.DEFAULT``
whatever that is when it runs, and writes its file with a first line naming that model
and its SHA-256 (:mod:`benchmarks.provenance`); ``tests/test_results_provenance.py``
fails when one of :data:`STEPS`' files names another. ``--test_data``: the speechocean762
recipe's test set (``run.sh --stop_stage 2`` makes it), a second set for ``onnx_int8``,
``int8_variants`` and ``chunk_plan``; where it is absent they measure the 20 real clips of
``../shared/data/real_speech`` alone (which every step needs).

Left out, each saying in its first line which model it describes: ``RESULTS.md``
(``make bench``: the other codecs need the ``bench`` extras and an idle machine),
``egs2/speechocean762/codec1/RESULTS*.md`` (the recipe's own runs: training, decoding,
``local/baselines.sh``, ``local/speechlm.sh``).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = "egs2/speechocean762/codec1/dump/test"

#: (name, module, arguments, the file it writes); "{test_data}" is --test_data
STEPS = [
    ("onnx_int8", "benchmarks.onnx_int8", ["--data_dir", "{test_data}"], "benchmarks/RESULTS_onnx_int8.md"),
    ("int8_variants", "benchmarks.int8_variants", ["--data_dir", "{test_data}"], "benchmarks/RESULTS_int8_variants.md"),
    ("onnx", "benchmarks.onnx_agreement", [], "benchmarks/RESULTS_onnx.md"),
    (
        "onnx_teacher",
        "benchmarks.onnx_agreement",
        ["--model_name", "teacher", "--output", "benchmarks/RESULTS_onnx_teacher.md"],
        "benchmarks/RESULTS_onnx_teacher.md",
    ),
    ("buzz_stages", "benchmarks.buzz_stages", [], "benchmarks/RESULTS_buzz_stages.md"),
    (
        "chunk_plan",
        "benchmarks.chunk_plan",
        ["--plans", "30:2,10:0.5,9.6:0.2", "--data_dir", "{test_data}"],
        "benchmarks/RESULTS_chunk_plan.md",
    ),
    ("cpu_limit", "benchmarks.cpu_limit", ["--paper"], "benchmarks/RESULTS_cpu_limit.md"),
    (
        "speed",
        "benchmarks.codec_speed",
        [
            "--only",
            "size,rtf,memory",
            "--codecs",
            "p2p_small,p2p_small_ort,p2p_small_ort_int8",
            "--output",
            "benchmarks/RESULTS_speed_shipped.md",
        ],
        "benchmarks/RESULTS_speed_shipped.md",
    ),
]
OUTPUTS = [out for *_, out in STEPS]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test_data", default=TEST_DATA)
    parser.add_argument("--only", default="", help="comma-separated step names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the steps' commands and stop")
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    unknown = only - {name for name, *_ in STEPS}
    if unknown:
        parser.error(f"no step {', '.join(sorted(unknown))}; steps: {', '.join(name for name, *_ in STEPS)}")
    started, times = time.time(), []
    for name, module, step_args, output in STEPS:
        if only and name not in only:
            continue
        command = [sys.executable, "-m", module] + [a.format(test_data=args.test_data) for a in step_args]
        print(f"== {name}: {' '.join(command[1:])} -> {output}", flush=True)
        if args.list:
            continue
        start = time.time()
        subprocess.run(command, cwd=ROOT, check=True)
        times.append((name, time.time() - start))
    for name, seconds in times:
        print(f"{name}: {seconds / 60:.1f} min")
    if times:
        print(f"make results: {(time.time() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
