"""What a chunk plan costs on long real speech: whole-input against chunked coding.

    python -m benchmarks.chunk_plan [--model ZIP] [--plans 30:2,10:0.5] [--seconds 60] [--pieces 8]
        [--data_dir egs2/speechocean762/codec1/dump/test] [--output benchmarks/RESULTS_chunk_plan.md]

Long inputs are made of real speech: the test utterances of ``--data_dir`` (the 25 unseen
speakers; no speechocean762 utterance is longer than 20 s), in name order, joined end to
end into ``--pieces`` inputs of ``--seconds``; and the 20 real clips of
``../shared/data/real_speech`` (at the model's rate) joined the same way into as many
inputs as they fill. Each input is coded by the packed model's student (PyTorch, through
:class:`espnet2_p2p.coding.coder.TorchCoder`, whose chunk plan ONNX Runtime shares) whole, in one
piece, and with each plan ``CHUNK:CONTEXT`` (seconds). Per set and plan: plain tokens
equal to whole-input coding, the SNR of the decoding against whole-input decoding, and
ViSQOL and STOI of the decoding against the input (mean +- 95% CI over the inputs), with
the paired difference to whole-input coding.
"""

import argparse
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "real_speech"


def long_inputs(wavs: List[np.ndarray], seconds: float, fs: int, limit: int = 0) -> List[np.ndarray]:
    """``wavs`` joined end to end and cut into whole inputs of ``seconds`` (the rest dropped)."""
    joined = np.concatenate(wavs)
    size = int(seconds * fs)
    count = len(joined) // size
    if limit:
        count = min(count, limit)
    return [joined[i * size : (i + 1) * size] for i in range(count)]


def code(coder, x: np.ndarray, chunk: float, context: float):
    codes, side = coder.encode_file(lambda s, e: x[s:e], len(x), "transmitted", chunk, context)
    out: List[np.ndarray] = []
    coder.decode_file(codes, len(x), out.append, chunk, context, side_info=side)
    return codes, np.concatenate(out)[: len(x)]


def snr_db(ref: np.ndarray, hyp: np.ndarray) -> float:
    noise = float(np.sum((ref - hyp) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(ref**2)) / noise)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a packed model (default: the shipped one)")
    parser.add_argument("--plans", default="30:2,10:0.5", help="CHUNK:CONTEXT seconds, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pieces", type=int, default=8, help="long inputs made of the test set")
    parser.add_argument("--data_dir", type=Path, default=ROOT / "egs2" / "speechocean762" / "codec1" / "dump" / "test")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_chunk_plan.md")
    args = parser.parse_args(argv)
    import soundfile as sf
    import torch
    from tqdm import tqdm

    from benchmarks.tables import markdown_table, publish
    from espnet2_p2p.coding.coder import open_coder
    from espnet2_p2p.data.prepare import read_table
    from espnet2_p2p.evaluation.metrics import METRICS, resample
    from espnet2_p2p.utils.stats import mean_ci95

    torch.set_num_threads(1)
    if args.model is None:
        from espnet2_p2p import pretrained

        args.model = pretrained.default_model()
    plans = [tuple(float(v) for v in p.split(":")) for p in args.plans.split(",")]
    coder = open_coder(args.model, name="student")
    fs = coder.layout.fs
    sets: Dict[str, List[np.ndarray]] = {}
    scp = args.data_dir / "wav.scp"
    if scp.is_file():
        table = read_table(scp)
        wavs = [sf.read(table[k], dtype="float32")[0] for k in sorted(table)]
        sets[f"test speakers ({args.data_dir})"] = long_inputs(wavs, args.seconds, fs, args.pieces)
    clips = sorted(CLIPS.rglob("*.wav"))
    if clips:
        wavs = []
        for clip in clips:
            x, clip_fs = sf.read(str(clip), dtype="float32")
            wavs.append(resample(x, clip_fs, fs).astype(np.float32))
        sets["20 real clips"] = long_inputs(wavs, args.seconds, fs)
    if not any(sets.values()):
        raise SystemExit(f"chunk_plan: no input of {args.seconds:g} s from {args.data_dir} or {CLIPS}")
    rows = []
    with torch.no_grad():
        for name, inputs in sets.items():
            scores = {}
            whole_codes, whole_audio = {}, {}
            for plan in [None, *plans]:
                label = "whole input" if plan is None else f"{plan[0]:g} s chunks, {plan[1]:g} s context"
                v, s, same, total, snrs = [], [], 0, 0, []
                for i, x in enumerate(tqdm(inputs, desc=f"{name}: {label}")):
                    chunk, context = (args.seconds * 2, 0.0) if plan is None else plan
                    codes, y = code(coder, x, chunk, context)
                    if plan is None:
                        whole_codes[i], whole_audio[i] = codes, y
                    else:
                        same += int((codes[0] == whole_codes[i][0]).sum())
                        snrs.append(snr_db(whole_audio[i], y))
                    total += codes.shape[1]
                    v.append(METRICS["visqol"](x, y, fs))
                    s.append(METRICS["stoi"](x, y, fs))
                scores[label] = (v, s)
                base_v, base_s = scores["whole input"]
                dv, ds = mean_ci95(np.subtract(v, base_v)), mean_ci95(np.subtract(s, base_s))
                fmt = lambda m: f"{m[0]:.3f} ± {m[1]:.3f}"  # noqa: E731
                rows.append(
                    (
                        name,
                        f"{len(inputs)} x {args.seconds:g} s",
                        label,
                        "100%" if plan is None else f"{100 * same / total:.1f}%",
                        "-" if plan is None else f"{np.mean(snrs):.1f}",
                        fmt(mean_ci95(v)),
                        fmt(mean_ci95(s)),
                        "-" if plan is None else f"{dv[0]:+.3f} ± {dv[1]:.3f}",
                        "-" if plan is None else f"{ds[0]:+.3f} ± {ds[1]:.3f}",
                    )
                )
    from benchmarks.provenance import model_line

    text = (
        model_line(args.model, " (its student)") + "\n\n# Chunk plans on long real speech\n\n"
        f"Produced by `python -m benchmarks.chunk_plan --plans {args.plans} --seconds {args.seconds:g}"
        f" --pieces {args.pieces}` with {Path(str(args.model)).name} (its student, PyTorch, one thread).\n\n"
        + markdown_table(
            "inputs | length | plan | plain tokens equal to whole input | SNR to whole-input decoding (dB) | ViSQOL"
            " | STOI | ViSQOL vs whole | STOI vs whole",
            rows,
        )
    )
    return publish(args.output, text)


if __name__ == "__main__":
    raise SystemExit(main())
