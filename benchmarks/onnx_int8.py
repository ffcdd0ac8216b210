"""int8 against float32 on ONNX Runtime: size, speed and quality on real speech.

    python -m benchmarks.onnx_int8 [--model ZIP] [--data_dir DIR] [--every 5]
        [--output benchmarks/RESULTS_onnx_int8.md]

Exports the model twice (``p2p-codec export`` and ``export --int8``), codes each clip of
``../shared/data/real_speech`` (resampled to the model's rate) through both, and, where
``--data_dir`` holds a ``wav.scp`` (default: the speechocean762 recipe's test set, the 25
unseen speakers), every ``--every``-th utterance of it. It writes a Markdown table per
set: graph sizes, one-thread encode + decode time (real-time factor, the real clips
only), plain-token agreement with float32, ViSQOL / STOI of each against the clip (scored
at 16 kHz by :mod:`espnet2_p2p.evaluation.metrics` after alignment, mean ± 95% CI) and int8's paired
difference to float32 (mean ± 95% CI over the clips). The speed column is only comparable
between runs on an otherwise idle machine; the table says how loaded this one was (the
load average when it ran).
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "real_speech"
TEST = ROOT / "egs2" / "speechocean762" / "codec1" / "dump" / "test"


def code_all(codec, wavs):
    """Tokens, ViSQOL, STOI of each waveform coded by ``codec`` and the seconds it took."""
    from espnet2_p2p.evaluation.metrics import METRICS, align

    fs = codec.layout.fs
    tokens, visqol, stoi, elapsed = [], [], [], 0.0
    for x in wavs:
        start = time.perf_counter()
        codes = codec.encode(x)
        y = codec.decode(codes, len(x))
        elapsed += time.perf_counter() - start
        tokens.append(codes)
        ref, hyp, _ = align(x, y, int(0.05 * fs))
        visqol.append(METRICS["visqol"](ref, hyp, fs))
        stoi.append(METRICS["stoi"](ref, hyp, fs))
    return dict(tokens=tokens, visqol=visqol, stoi=stoi, elapsed=elapsed)


def speech_sets(fs: int, clips, data_dir: Path, every: int) -> dict:
    """{description: [waveforms at ``fs``]}: the real ``clips``, and every ``every``-th
    utterance of ``data_dir``'s wav.scp where it has one."""
    import soundfile as sf

    from espnet2_p2p.data.prepare import read_table
    from espnet2_p2p.evaluation.metrics import resample

    sets = {}
    wavs = []
    for clip in clips:
        x, clip_fs = sf.read(str(clip), dtype="float32")
        wavs.append(resample(x, clip_fs, fs).astype(np.float32))
    sets[f"the {len(clips)} real clips ({sum(map(len, wavs)) / fs:.1f} s)"] = wavs
    scp = data_dir / "wav.scp"
    if scp.is_file():
        table = read_table(scp)
        keys = sorted(table)[::every]
        wavs = [resample(*sf.read(table[k], dtype="float32"), fs).astype(np.float32) for k in keys]
        name = data_dir.relative_to(ROOT) if data_dir.is_relative_to(ROOT) else data_dir
        sets[f"`{name}`, every {every}th utterance ({len(wavs)}, {sum(map(len, wavs)) / fs:.1f} s)"] = wavs
    return sets


def paired_rows(sets: dict, results: dict, fs: int, sizes: dict, base: str = "float32") -> list:
    """Table rows of ``results[set][graphs]`` (:func:`code_all`), each against ``base``:
    size, RTF (the first set only), tokens equal, ViSQOL, STOI and the paired differences."""
    from espnet2_p2p.utils.stats import mean_ci95

    fmt = lambda m: f"{m[0]:.3f} ± {m[1]:.3f}"  # noqa: E731
    diff = lambda m: f"{m[0]:+.3f} ± {m[1]:.3f}"  # noqa: E731
    rows = []
    for i, (name, by_label) in enumerate(results.items()):
        ref = by_label[base]
        seconds = sum(map(len, sets[name])) / fs
        for label, r in by_label.items():
            same = sum(int((a[0] == b[0]).sum()) for a, b in zip(ref["tokens"], r["tokens"]))
            total = sum(a[0].size for a in ref["tokens"])
            paired = label != base
            rows.append(
                (
                    name,
                    label,
                    f"{sizes[label]:.1f}",
                    f"{r['elapsed'] / seconds:.4f}" if i == 0 else "-",
                    f"{100 * same / total:.1f}% of {total}",
                    fmt(mean_ci95(r["visqol"])),
                    fmt(mean_ci95(r["stoi"])),
                    diff(mean_ci95(np.subtract(r["visqol"], ref["visqol"]))) if paired else "-",
                    diff(mean_ci95(np.subtract(r["stoi"], ref["stoi"]))) if paired else "-",
                )
            )
    return rows


HEADER = [
    "set",
    "graphs",
    "size (MB)",
    "enc + dec RTF",
    "plain tokens equal to float32",
    "ViSQOL",
    "STOI",
    "ViSQOL vs float32 (paired)",
    "STOI vs float32 (paired)",
]


def parse_options(argv, doc: str, name: str):
    """The options of the int8 benchmarks (this one and ``int8_variants``): (args with
    ``--model`` resolved to the shipped model when not given, the model as named or None,
    the real clips)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--data_dir", type=Path, default=TEST, help="a folder with wav.scp (left out when absent)")
    parser.add_argument("--every", type=int, default=5, help="every N-th utterance of --data_dir")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / f"RESULTS_{name}.md")
    args = parser.parse_args(argv)
    named = args.model
    if args.model is None:
        from espnet2_p2p import pretrained

        args.model = pretrained.default_model()
    clips = sorted(CLIPS.rglob("*.wav"))
    if not clips:
        raise SystemExit(f"{name}: no clips in {CLIPS}")
    return args, named, clips


def main(argv=None) -> int:
    args, named, clips = parse_options(argv, __doc__, "onnx_int8")
    from benchmarks.provenance import model_line
    from benchmarks.tables import markdown_table
    from espnet2_p2p.onnx import OnnxCodec
    from espnet2_p2p.onnx.export import export

    with tempfile.TemporaryDirectory() as tmp:
        codecs = {}
        for label, int8 in (("float32", False), ("int8", True)):
            export(args.model, Path(tmp) / label, int8=int8)
            codecs[label] = OnnxCodec(Path(tmp) / label, threads=1)
        sizes = {label: sum(p.stat().st_size for p in (Path(tmp) / label).glob("*.onnx")) / 1e6 for label in codecs}
        int8_meta = (Path(tmp) / "int8" / "codec.json").read_text()
        fs = codecs["float32"].layout.fs
        sets = speech_sets(fs, clips, args.data_dir, args.every)
        results = {s: {label: code_all(codec, wavs) for label, codec in codecs.items()} for s, wavs in sets.items()}
    rows = paired_rows(sets, results, fs, sizes)
    text = (
        model_line(args.model) + "\n\n"
        "# int8 against float32 on ONNX Runtime\n\n"
        f"Produced by `python -m benchmarks.onnx_int8{' --model ' + str(named) if named else ''}`"
        f" (its student), one thread. int8: `p2p-codec export --int8`, {json.loads(int8_meta)['int8']}."
        f" Load average when it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the speed column is only"
        " comparable on an idle machine). Paired: int8 minus float32 on each clip, mean ± 95% CI.\n\n"
        + markdown_table(HEADER, rows)
    )
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
