#!/usr/bin/env python3
"""Code audio with codec2 (the DSP vocoder of Debian's ``codec2`` package): a baseline
decoded into a folder of wavs for :mod:`espnet2_p2p.bin.score`.

    python -m espnet2_p2p.bin.codec2_baseline --input dump/test/wav.scp \\
        --output_dir exp/baselines/codec2_700C/test --mode 700C

Each input (a wav.scp, a folder of audio files or one file) is downmixed, resampled to
codec2's 8 kHz (soxr, :func:`espnet2_p2p.evaluation.metrics.resample`), coded with ``c2enc MODE`` and
decoded with ``c2dec MODE`` (the codec2 command-line tools, run as they are), and written
back at ``--fs`` (16 kHz) as ``OUTPUT_DIR/<utt>.wav`` (float). codec2 delays its output
by a few tens of milliseconds; the scorer aligns each hypothesis to its reference within
``--max_shift_ms``. ``OUTPUT_DIR/codec2.json`` records the mode, its bitrate and the tools
used. Modes: 700C (700 bit/s), 450 (450 bit/s), and the others ``c2enc`` knows.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from espnet2_p2p.errors import P2PError
from espnet2_p2p.evaluation.baselines import BITRATES, code, tools


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, required=True, help="wav.scp, folder of audio files, or one file")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--mode", default="700C", choices=sorted(BITRATES))
    parser.add_argument("--fs", type=int, default=16000, help="rate of the decoded wavs")
    args = parser.parse_args(argv)
    import soundfile as sf
    from tqdm import tqdm

    from espnet2_p2p.coding.files import AUDIO_EXTS, list_inputs

    try:
        tools()
        inputs = list_inputs(args.input, AUDIO_EXTS)
        args.output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            for name, path in tqdm(inputs, desc=f"codec2 {args.mode}", unit="file"):
                wav, fs = sf.read(str(path), dtype="float32", always_2d=True)
                out = code(wav.mean(axis=1), fs, args.mode, args.fs, Path(tmp))
                target = args.output_dir / f"{Path(name).name}.wav"
                sf.write(str(target), out, args.fs, subtype="FLOAT")
    except P2PError as e:
        print(f"codec2_baseline: error: {e}", file=sys.stderr)
        return 1
    meta = dict(
        mode=args.mode,
        bitrate=BITRATES[args.mode],
        fs=args.fs,
        files=len(inputs),
        tools=[str(t) for t in tools()],
        command=" ".join(["python -m espnet2_p2p.bin.codec2_baseline"] + [str(a) for a in (argv or sys.argv[1:])]),
    )
    (args.output_dir / "codec2.json").write_text(json.dumps(meta, indent=2))
    print(f"codec2 {args.mode}: {len(inputs)} files -> {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
