#!/usr/bin/env python3
"""Text units aligned to every sample, for SecoustiCodec's contrastive term.

    python -m espnet2_p2p.bin.frame_labels --data_dir dump/train --out_dir dump/train/frame_labels \
        --unit phoneme --unit_list dump/train/frame_labels/units.txt

Text units: ``phoneme`` runs ``espeak-ng -q -x`` on each transcript (stress marks
removed; what the mini corpus uses), ``bpe`` trains a sentencepiece model on the
training transcripts (``--bpe_model`` reuses one for dev/test), ``char`` takes
letters. Unit 0 is ``<sil>``. ``--text_norm lower`` lowercases the transcripts first
(for all-caps corpora such as speechocean762: espeak-ng reads a short all-caps word as
an abbreviation, "IT" as the letters I and T).

Alignment (computed here, no model needed, and crude on purpose): an energy detector
(20 ms frames, speech where the level is within ``--threshold_db`` of the loudest
frame) finds the first and last speech frame; the transcript's units are spread
uniformly over that span, non-speech frames inside it keep the unit they fall on,
and everything before or after the span is ``<sil>``. This assumes a roughly even
speaking rate; it is right about where speech is and about the order of the units, not
about their exact boundaries. Labels are written per sample (int16 ``.npy``) with
``frame_labels.scp`` so ESPnet's chunk iterator cuts them together with the audio.
"""

import argparse
import json
import logging
from pathlib import Path
from typing import List, Optional

import numpy as np
import soundfile as sf
from tqdm import tqdm

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import one_line_errors
from espnet2_p2p.evaluation.frame_labels import SIL, TEXT_NORMS, align, phonemes, speech_span  # noqa: F401


@one_line_errors("frame_labels")
def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True, help="holds wav.scp and text")
    parser.add_argument("--out_dir", type=Path, required=True)
    parser.add_argument("--unit", choices=["phoneme", "bpe", "char"], default="phoneme")
    parser.add_argument(
        "--unit_list",
        type=Path,
        required=True,
        help="unit inventory: written if missing (training set), read otherwise",
    )
    parser.add_argument(
        "--text_norm", choices=list(TEXT_NORMS), default="none", help="transcript normalisation before the units"
    )
    parser.add_argument("--bpe_model", type=Path, help="sentencepiece model (--unit bpe)")
    parser.add_argument("--nbpe", type=int, default=100)
    parser.add_argument("--voice", default="en")
    parser.add_argument("--threshold_db", type=float, default=35.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    wavs = read_table(args.data_dir / "wav.scp")
    texts = {key: TEXT_NORMS[args.text_norm](text) for key, text in read_table(args.data_dir / "text").items()}
    missing = sorted(set(wavs) - set(texts))
    if missing:
        raise SystemExit(f"{args.data_dir}/text has no transcript for {len(missing)} utterances, e.g. {missing[:3]}")
    args.out_dir.mkdir(parents=True, exist_ok=True)

    if args.unit == "bpe":
        import sentencepiece as spm

        model = args.bpe_model or args.out_dir / "bpe.model"
        if not model.exists():
            corpus = args.out_dir / "bpe_train.txt"
            corpus.write_text("\n".join(texts.values()) + "\n", encoding="utf-8")
            spm.SentencePieceTrainer.train(
                input=str(corpus),
                model_prefix=str(model.with_suffix("")),
                vocab_size=args.nbpe,
                model_type="bpe",
                character_coverage=1.0,
                minloglevel=2,
            )
        sp = spm.SentencePieceProcessor(model_file=str(model))

        def to_units(text):
            return sp.encode(text, out_type=str)
    elif args.unit == "phoneme":

        def to_units(text):
            return phonemes(text, args.voice)
    else:

        def to_units(text):
            return [c for c in text.lower() if c.isalpha()]

    symbols = {key: to_units(texts[key]) for key in tqdm(sorted(wavs), desc=f"{args.unit}s")}
    if args.unit_list.exists():
        inventory = args.unit_list.read_text(encoding="utf-8").split()
    else:
        inventory = [SIL] + sorted({u for units in symbols.values() for u in units})
        args.unit_list.parent.mkdir(parents=True, exist_ok=True)
        args.unit_list.write_text("\n".join(inventory) + "\n", encoding="utf-8")
    index = {u: i for i, u in enumerate(inventory)}
    unknown = 0
    lines = []
    for key in tqdm(sorted(wavs), desc="aligning"):
        wav, fs = sf.read(wavs[key], dtype="float32", always_2d=True)
        wav = wav.mean(1)
        ids = []
        for u in symbols[key]:
            if u in index:
                ids.append(index[u])
            else:
                unknown += 1
        labels = align(ids, len(wav), speech_span(wav, fs, args.threshold_db))
        path = (args.out_dir / f"{key}.npy").resolve()
        np.save(path, labels)
        lines.append(f"{key} {path}")
    (args.out_dir / "frame_labels.scp").write_text("\n".join(lines) + "\n", encoding="utf-8")
    info = {
        "unit": args.unit,
        "text_norm": args.text_norm,
        "num_units": len(inventory),
        "utterances": len(lines),
        "unknown_units": unknown,
    }
    (args.out_dir / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    logging.info("wrote %s: %s", args.out_dir / "frame_labels.scp", info)


if __name__ == "__main__":
    main()
