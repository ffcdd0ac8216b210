#!/usr/bin/env python3
"""Dump codec tokens of a data set for speech LMs (the recipes' stage 7).

    python -m espnet2_p2p.bin.dump_tokens --model exp/student --data_dir dump/train \\
        --output_dir dump/tokens/train [--streams all|transmitted|plain] [--order frame|stream]
    python -m espnet2_p2p.bin.dump_tokens --model exp/p2psyn_packed.zip \\
        --cuts data/manifests/test_cuts.jsonl.gz --output_dir dump/tokens/test

The input is a Kaldi data dir (``wav.scp``, and ``text`` if there is one) or a Lhotse
CutSet manifest. OUTPUT_DIR gets:

- ``tokens.ark`` / ``tokens.scp``: Kaldi archives (``kaldiio``) of 1-D int32 flat ids per
  utterance (``offset[stream] + code``, ``--order`` frame-major by default), the layout
  of ESPnet's speech-LM data preparation; ``utt2num_frames``;
- ``token_list``: line i names flat id i, ``<codec_layer{s}_code{c}>``;
  ``token_info.json``: streams, codebook sizes, offsets, order, frame rate, the model's
  fingerprint;
- ``cuts.jsonl.gz`` + ``arrays/``: the Lhotse cuts with a ``codec_tokens`` temporal
  array (frames x streams, written with Lhotse's ``NumpyFilesWriter``):
  ``cut.codec_tokens.load()`` gives all ``ceil(samples / hop)`` frames;
  ``cut.load_codec_tokens()`` gives Lhotse's cut-aligned ``round(duration / frame_shift)``
  frames (the same tokens, one fewer when the last frame is less than half full);
- SecoustiCodec only: ``paralinguistic.ark`` / ``paralinguistic.scp``, the integer codes
  (P,) of each utterance's paralinguistic vector (the decoder's speaker/prosody input;
  ``P2PTokenizer.decode(tokens, paralinguistic=...)``), also the cuts' custom
  ``paralinguistic`` field;
- ``.done`` when everything above is complete;
- ``lm_text``: ``utt <codec_layer0_code5> <codec_layer1_code7> ...`` lines, and
  ``lm_token_list`` (``<blank>``, ``<unk>``, the codec tokens, ``<sos/eos>``) for
  ``espnet2.bin.lm_train --token_type word``.

With ``--joint_vocab_dir DIR`` (and the transcripts, ``--text`` or the data dir's
``text``), a sentencepiece BPE model is trained on the transcripts with the codec token
list as user-defined symbols: one vocabulary for text and codec tokens (TTS-style LMs).
``DIR/offsets.json`` records where each part lies (codec id i is joint id
``codec.start + i``).
"""

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from espnet2_p2p.errors import P2PError
from espnet2_p2p.speechlm.token_dump import build_joint_vocab, dump, load_cuts, read_back, read_paralinguistic  # noqa: F401  (read a dump back)
from espnet2_p2p.speechlm.tokenizer import P2PTokenizer


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--data_dir", type=Path, help="Kaldi data dir with wav.scp")
    src.add_argument("--cuts", type=Path, help="Lhotse CutSet manifest")
    parser.add_argument("--model", required=True, help="packed zip, experiment dir or .pth")
    parser.add_argument("--model_name", default=None)
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument(
        "--streams",
        choices=["all", "transmitted", "plain"],
        default="all",
        help="all: plain + N pseudo; transmitted: what a .p2p file carries; plain: stream 0 alone",
    )
    parser.add_argument("--order", choices=["frame", "stream"], default="frame")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--joint_vocab_dir", type=Path, default=None)
    parser.add_argument("--text", type=Path, default=None, help="transcripts (Kaldi text) for the joint vocabulary")
    parser.add_argument("--nbpe", type=int, default=100)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        from espnet2_p2p.model_io import fingerprint, load_codec

        cuts = load_cuts(args.data_dir, args.cuts)  # the data's errors before the model loads
        model = load_codec(args.model, args.model_name, args.device)
        tokenizer = P2PTokenizer(model, args.streams)
        import shutil

        # A dump dir is complete when it has .done (written last).
        shutil.rmtree(args.output_dir, ignore_errors=True)
        n = dump(tokenizer, cuts, args.output_dir, args.order, args.batch_size, fingerprint(model).hex())
        (args.output_dir / ".done").touch()
        print(f"wrote tokens of {n} utterances to {args.output_dir}")
        if args.joint_vocab_dir is not None:
            text_file = args.text or (args.data_dir / "text" if args.data_dir else None)
            if text_file is None or not text_file.is_file():
                raise P2PError("--joint_vocab_dir needs transcripts: --text FILE or a data dir with text")
            from espnet2_p2p.data.prepare import read_table

            texts = list(read_table(text_file).values())
            offsets = build_joint_vocab(texts, tokenizer.token_list(), args.joint_vocab_dir, args.nbpe)
            print(f"wrote the joint vocabulary ({offsets['vocab_size']} pieces) to {args.joint_vocab_dir}")
    except P2PError as e:
        raise SystemExit(f"dump_tokens: {e}") from None


if __name__ == "__main__":
    main()
