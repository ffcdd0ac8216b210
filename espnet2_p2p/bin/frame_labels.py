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
from tqdm import tqdm

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import one_line_errors
from espnet2_p2p.evaluation.frame_labels import TEXT_NORMS, labels_of_file, unit_inventory, unit_tokenizer


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

    to_units = unit_tokenizer(args.unit, texts, args.out_dir, args.bpe_model, args.nbpe, args.voice)
    symbols = {key: to_units(texts[key]) for key in tqdm(sorted(wavs), desc=f"{args.unit}s")}
    inventory = unit_inventory(args.unit_list, symbols)
    index = {u: i for i, u in enumerate(inventory)}
    unknown = sum(u not in index for units in symbols.values() for u in units)
    lines = []
    for key in tqdm(sorted(wavs), desc="aligning"):
        path = (args.out_dir / f"{key}.npy").resolve()
        np.save(path, labels_of_file(wavs[key], [index[u] for u in symbols[key] if u in index], args.threshold_db))
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
