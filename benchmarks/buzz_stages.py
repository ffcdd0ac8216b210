"""Where does the buzz at the code frame rate come from? Stage by stage, on the real clips.

    python -m benchmarks.buzz_stages [--model ZIP] [--output benchmarks/RESULTS_buzz_stages.md]

For each clip of ``../shared/data/real_speech`` (at 16 kHz) and a packed P2PSynCodec (the
shipped one by default): :func:`espnet2_p2p.evaluation.metrics.frame_grid` at the code rate (the share
of the energy within 1.5 Hz of a multiple of it, and how far those lines stand above their
neighbours) of the reference, of the MDCT analysis and synthesis alone, of the unquantized
autoencoder (encoder -> latent -> decoder), of a zero latent decoded, of the teacher at 1 and
1 + N levels and of the student. Inside the student's decoder, each stage's feature
trajectories along the MDCT frames are checked for a pattern repeated every code frame: the
share of their power (mean removed, per channel) at multiples of 1 / downsample cycles per
MDCT frame, against the reference MDCT's own (evenly spread power puts about 1.5% there).
"""

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "real_speech"


def periodic_share(h: np.ndarray, period: int) -> float:
    """Share of the power of trajectories h (C, F), means removed, within one bin of a
    multiple of 1 / period cycles per frame."""
    h = h - h.mean(-1, keepdims=True)
    frames = h.shape[-1]
    power = np.abs(np.fft.rfft(h, axis=-1)) ** 2
    freq = np.fft.rfftfreq(frames)
    on = np.zeros_like(freq, bool)
    for k in range(1, period // 2 + 1):
        on |= np.abs(freq - k / period) <= 1.0 / frames
    return float(power[:, on].sum() / power[:, 1:].sum())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a packed zip (default: the shipped model)")
    parser.add_argument("--clips", type=Path, default=CLIPS)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_buzz_stages.md")
    args = parser.parse_args(argv)
    import soundfile as sf
    import torch

    from benchmarks.tables import publish
    from espnet2_p2p.evaluation.metrics import frame_grid, resample
    from espnet2_p2p.model_io import load_codec
    from espnet2_p2p.pretrained import DEFAULT, default_model

    torch.set_num_threads(1)
    model = args.model or default_model()
    student, teacher = (load_codec(model, name).codec for name in ("student", "teacher"))
    clips = sorted(args.clips.glob("*/*.wav"))
    if not clips:
        raise SystemExit(f"buzz_stages: no clips in {args.clips}")
    fs = student.fs
    rate = fs / student.hop_length
    down = student.hop_length // student.generator.mdct.hop_length
    rows = {}

    def add(name, values):
        rows.setdefault(name, []).append(values)

    for path in clips:
        wav, sr = sf.read(str(path), dtype="float32")
        wav = resample(wav, sr, fs)
        x = torch.from_numpy(wav).view(1, 1, -1)
        n = x.shape[-1]
        grid = lambda a: frame_grid(a.reshape(-1).numpy(), fs, rate)  # noqa: E731
        with torch.no_grad():
            add("reference", frame_grid(wav, fs, rate))
            coeffs, _ = teacher.generator.analyse(x)
            add("MDCT analysis and synthesis alone", grid(teacher.generator.mdct.imdct(coeffs, n)))
            for label, codec in (("teacher", teacher), ("student", student)):
                _, z = codec.generator.analyse(x)
                add(f"{label}: encoder -> unquantized latent -> decoder", grid(codec.generator.synthesise(z, n)[0]))
                add(f"{label}: zero latent -> decoder", grid(codec.generator.synthesise(torch.zeros_like(z), n)[0]))
            codes = teacher.encode(x)
            add("teacher: plain VQ alone (0.5 kbps)", grid(teacher.decode(codes[:1], length=n)))
            add(f"teacher: all {codes.shape[0]} levels (2 kbps)", grid(teacher.decode(codes, length=n)))
            add("student (its plain tokens)", grid(student.decode(student.encode(x), length=n)))
            quantized, _ = student.generator.quantizer.decode(student.encode(x)[0])
            dec = student.generator.decoder
            stages = []
            if getattr(dec, "upsample_mode", "transposed") == "transposed":
                h = dec.upsample(quantized)
                stages.append(("decoder upsampling (transposed conv)", h))
            else:
                h = dec.interpolate(dec.project(quantized))
                stages.append(("decoder upsampling (conv, then linear interpolation)", h))
            h = dec.input_norm(h)
            for i, block in enumerate(dec.blocks):
                h = block(h)
                stages.append((f"decoder block {i + 1}", h))
            stages.append(("decoder output (MDCT coefficients)", dec.output_conv(dec.output_norm(h))))
            stages.append(("reference MDCT coefficients", coeffs))
            for name, h in stages:
                add(f"per code frame: {name}", (periodic_share(h[0].numpy(), down), float("nan")))
    name = Path(model).name if args.model else f"{DEFAULT} (shipped)"
    from benchmarks.provenance import model_line

    lines = [
        model_line(model),
        "",
        f"# The buzz stage by stage: {name}",
        "",
        f"Produced by `python -m benchmarks.buzz_stages{' --model ' + str(args.model) if args.model else ''}` on the"
        f" {len(clips)} real clips of `{args.clips.relative_to(ROOT.parent) if args.clips.is_relative_to(ROOT.parent) else args.clips}`"
        f" (means). Grid: multiples of the code rate, {rate:g} Hz (`espnet2_p2p.evaluation.metrics.frame_grid`: the share"
        " of the energy within 1.5 Hz of them, about 6% when spread evenly; how far those lines stand above"
        ' their neighbours, dB). "Per code frame" rows: the share of the decoder features\' power (along'
        f" the MDCT frames, means removed) at multiples of 1/{down} cycles per frame, a pattern repeated every"
        " code frame.",
        "",
        "| stage | grid share | grid lines (dB) |",
        "|---|---|---|",
    ]
    for stage, values in rows.items():
        v = np.array(values, dtype=float)
        db = "" if np.isnan(v[:, 1]).all() else f"{np.nanmean(v[:, 1]):+.1f}"
        lines.append(f"| {stage} | {100 * v[:, 0].mean():.1f}% | {db} |")
    text = "\n".join(lines) + "\n"
    return publish(args.output, text)


if __name__ == "__main__":
    raise SystemExit(main())
