"""int8 against float32 on ONNX Runtime: size, speed and quality on the 20 real clips.

    python -m benchmarks.onnx_int8 [--model ZIP] [--output benchmarks/RESULTS_onnx_int8.md]

Exports the model twice (``p2p-codec export`` and ``export --int8``), codes each clip of
``../shared/data/real_speech`` (resampled to the model's rate) through both, and writes a
Markdown table: graph sizes, one-thread encode + decode time (real-time factor), plain-token
agreement with float32, and ViSQOL / STOI of each against the clip (scored at 16 kHz by
:func:`espnet2_p2p.scoring.score_pair`'s metrics after alignment). The speed columns are
only comparable between runs on an otherwise idle machine; the table says how loaded this
one was (the load average when it ran).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "real_speech"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_onnx_int8.md")
    args = parser.parse_args(argv)
    import soundfile as sf

    from benchmarks.tables import markdown_table
    from espnet2_p2p.metrics import METRICS, align, resample
    from espnet2_p2p.onnx import OnnxCodec
    from espnet2_p2p.onnx.export import export
    from espnet2_p2p.utils.stats import mean_ci95

    if args.model is None:
        from espnet2_p2p import pretrained

        args.model = pretrained.default_model()
    clips = sorted(CLIPS.rglob("*.wav"))
    if not clips:
        raise SystemExit(f"onnx_int8: no clips in {CLIPS}")
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, int8 in (("float32", False), ("int8", True)):
            folder = Path(tmp) / label
            export(args.model, folder, int8=int8)
            codec = OnnxCodec(folder, threads=1)
            size = sum(p.stat().st_size for p in folder.glob("*.onnx")) / 1e6
            seconds = elapsed = 0.0
            tokens, visqol, stoi = [], [], []
            for clip in clips:
                x, fs = sf.read(str(clip), dtype="float32")
                x = resample(x, fs, codec.layout.fs)
                start = time.perf_counter()
                codes = codec.encode(x)
                y = codec.decode(codes, len(x))
                elapsed += time.perf_counter() - start
                seconds += len(x) / codec.layout.fs
                tokens.append(codes)
                ref, hyp, _ = align(x, y, int(0.05 * codec.layout.fs))
                visqol.append(METRICS["visqol"](ref, hyp, codec.layout.fs))
                stoi.append(METRICS["stoi"](ref, hyp, codec.layout.fs))
            results[label] = dict(size=size, rtf=elapsed / seconds, tokens=tokens, visqol=mean_ci95(visqol),
                                  stoi=mean_ci95(stoi))  # fmt: skip
    base = results["float32"]["tokens"]
    for label, r in results.items():
        same = sum(int((a == b).sum()) for a, b in zip(base, r["tokens"])) / sum(a.size for a in base)
        rows.append((label, f"{r['size']:.1f}", f"{r['rtf']:.4f}", f"{100 * same:.1f}%",
                     f"{r['visqol'][0]:.3f} ± {r['visqol'][1]:.3f}", f"{r['stoi'][0]:.3f} ± {r['stoi'][1]:.3f}"))  # fmt: skip
    load = os.getloadavg()[0]
    text = (
        "# int8 against float32 on ONNX Runtime\n\n"
        f"Produced by `python -m benchmarks.onnx_int8` with {Path(str(args.model)).name}, on the {len(clips)} real"
        f" clips ({sum(len(t[0]) for t in base)} frames), one thread. Load average when it ran: {load:.1f}"
        " on 2 cores (the speed column is only comparable on an idle machine).\n\n"
        + markdown_table(["graphs", "size (MB)", "enc + dec RTF", "plain tokens equal to float32", "ViSQOL", "STOI"], rows)
    )
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
