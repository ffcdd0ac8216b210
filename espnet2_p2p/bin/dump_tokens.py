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
import json
import logging
from contextlib import nullcontext
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch
from tqdm import tqdm

from espnet2_p2p.errors import P2PError
from espnet2_p2p.tokenizer import P2PTokenizer

LM_SPECIALS = ("<blank>", "<unk>")
LM_EOS = "<sos/eos>"


def load_cuts(data_dir: Optional[Path], cuts: Optional[Path]):
    from lhotse import CutSet

    if cuts is not None:
        return CutSet.from_file(cuts)
    from lhotse.utils import fastcopy

    from espnet2_p2p.data.prepare import from_kaldi_dir

    # Keyed by the data dir's utterance ids (Lhotse would name the cuts "<utt>-0").
    return CutSet.from_cuts(fastcopy(c, id=c.recording_id) for c in from_kaldi_dir(data_dir))


def dump(
    tokenizer: P2PTokenizer,
    cuts,
    output_dir: Path,
    order: str = "frame",
    batch_size: int = 8,
    fingerprint_hex: str = "",
) -> int:
    """Write every output of the module docstring; returns the number of utterances."""
    import kaldiio
    from lhotse import CutSet, NumpyFilesWriter

    output_dir.mkdir(parents=True, exist_ok=True)
    names = tokenizer.token_list()
    (output_dir / "token_list").write_text("\n".join(names) + "\n")
    (output_dir / "lm_token_list").write_text("\n".join([*LM_SPECIALS, *names, LM_EOS]) + "\n")
    info = {
        "streams": tokenizer.num_streams,
        "codebook_sizes": tokenizer.sizes,
        "offsets": tokenizer.offsets,
        "vocab_size": tokenizer.vocab_size,
        "order": order,
        "frame_rate": tokenizer.frame_rate,
        "hop_length": tokenizer.hop_length,
        "sample_rate": tokenizer.sample_rate,
        "model_fingerprint": fingerprint_hex,
        "frames": "ceil(num_samples / hop_length)",
    }
    if tokenizer.has_paralinguistic:
        info["paralinguistic_dim"] = tokenizer.paralinguistic_dim
        info["paralinguistic_levels"] = tokenizer.codec.paralinguistic_levels
    (output_dir / "token_info.json").write_text(json.dumps(info, indent=2) + "\n")
    fs = tokenizer.sample_rate
    cut_list = [c if c.sampling_rate == fs else c.resample(fs) for c in cuts]
    out_cuts = []
    frames_lines, lm_lines = [], []
    ark, scp = output_dir / "tokens.ark", output_dir / "tokens.scp"
    para_spec = "ark,scp:{0}/paralinguistic.ark,{0}/paralinguistic.scp".format(output_dir)
    with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}") as writer, NumpyFilesWriter(
        output_dir / "arrays"
    ) as storage, (kaldiio.WriteHelper(para_spec) if tokenizer.has_paralinguistic else nullcontext()) as para:
        for i in tqdm(range(0, len(cut_list), batch_size), desc=f"tokens {output_dir.name}", unit="batch"):
            batch = cut_list[i : i + batch_size]
            audios = [np.asarray(c.load_audio(), dtype=np.float32).mean(axis=0) for c in batch]
            lengths = [len(a) for a in audios]
            for c, n in zip(batch, lengths):
                if n == 0:
                    raise P2PError(f"{c.id}: no samples")
            padded = np.zeros((len(batch), max(lengths)), dtype=np.float32)
            for b, a in enumerate(audios):
                padded[b, : len(a)] = a
            tokens = tokenizer.encode(torch.from_numpy(padded), lengths)
            for b, cut in enumerate(batch):
                t = tokens[b, : tokenizer.num_frames(lengths[b])]
                ids = tokenizer.flatten(t, order).numpy().astype(np.int32)
                writer(cut.id, ids)
                frames_lines.append(f"{cut.id} {t.shape[0]}")
                lm_lines.append(cut.id + " " + " ".join(names[j] for j in tokenizer.flatten(t, "frame").tolist()))
                array = storage.store_array(
                    cut.id, t.numpy().astype(np.int16 if tokenizer.vocab_size < 2**15 else np.int32),
                    frame_shift=tokenizer.hop_length / fs, temporal_dim=0,
                )  # fmt: skip
                cut = cut.with_custom("codec_tokens", array)
                if para is not None:
                    codes = tokenizer.paralinguistic(audios[b]).numpy().astype(np.int32)
                    para(cut.id, codes)
                    cut = cut.with_custom("paralinguistic", codes.tolist())
                out_cuts.append(cut)
    (output_dir / "utt2num_frames").write_text("\n".join(frames_lines) + "\n")
    (output_dir / "lm_text").write_text("\n".join(lm_lines) + "\n")
    CutSet.from_cuts(out_cuts).to_file(output_dir / "cuts.jsonl.gz")
    return len(out_cuts)


def read_back(output_dir: Path, tokenizer: P2PTokenizer, order: str = "frame"):
    """{utt: (frames, streams)} from the Kaldi archives, checked (for users and tests)."""
    import kaldiio

    out = {}
    for utt, ids in kaldiio.load_scp(str(output_dir / "tokens.scp")).items():
        out[utt] = tokenizer.unflatten(np.asarray(ids), order, name=f"{output_dir / 'tokens.scp'}: {utt}")
    return out


def read_paralinguistic(output_dir: Path):
    """{utt: (P,) int codes} of a SecoustiCodec dump."""
    import kaldiio

    scp = output_dir / "paralinguistic.scp"
    if not scp.is_file():
        raise P2PError(f"{scp} is missing: the dump is not a SecoustiCodec one")
    return {utt: np.asarray(v) for utt, v in kaldiio.load_scp(str(scp)).items()}


def build_joint_vocab(texts: List[str], codec_tokens: List[str], output_dir: Path, nbpe: int) -> dict:
    """sentencepiece BPE on the transcripts + the codec tokens as user-defined symbols."""
    import sentencepiece as spm

    output_dir.mkdir(parents=True, exist_ok=True)
    corpus = output_dir / "transcripts.txt"
    corpus.write_text("\n".join(texts) + "\n")
    specials = 3  # <unk>, <s>, </s>
    # every character of the transcripts (and the word boundary) must fit beside the merges
    nbpe = max(nbpe, len(set("".join(texts))) + 2)
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(output_dir / "bpe"),
        model_type="bpe",
        vocab_size=specials + len(codec_tokens) + nbpe,
        user_defined_symbols=codec_tokens,
        hard_vocab_limit=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(output_dir / "bpe.model"))
    start = sp.piece_to_id(codec_tokens[0])
    ids = [sp.piece_to_id(t) for t in codec_tokens]
    if ids != list(range(start, start + len(codec_tokens))):
        raise RuntimeError("sentencepiece did not give the codec tokens contiguous ids")
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    (output_dir / "tokens.txt").write_text("\n".join(pieces) + "\n")
    text_ids = [i for i in range(sp.get_piece_size()) if not start <= i < start + len(codec_tokens)]
    offsets = {
        "vocab_size": sp.get_piece_size(),
        "special": {"unk": sp.unk_id(), "bos": sp.bos_id(), "eos": sp.eos_id()},
        "codec": {"start": start, "end": start + len(codec_tokens)},
        "text": {"ids": f"{min(text_ids)}..{max(text_ids)} outside the codec range", "count": len(text_ids) - 3},
        "note": "codec flat id i (token_list line i) is joint id codec.start + i",
    }
    (output_dir / "offsets.json").write_text(json.dumps(offsets, indent=2) + "\n")
    return offsets


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--data_dir", type=Path, help="Kaldi data dir with wav.scp")
    src.add_argument("--cuts", type=Path, help="Lhotse CutSet manifest")
    parser.add_argument("--model", required=True, help="packed zip, experiment dir or .pth")
    parser.add_argument("--model_name", default=None)
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--streams", choices=["all", "transmitted", "plain"], default="all",
                        help="all: plain + N pseudo; transmitted: what a .p2p file carries;"
                        " plain: stream 0 alone")
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

        model = load_codec(args.model, args.model_name, args.device)
        tokenizer = P2PTokenizer(model, args.streams)
        cuts = load_cuts(args.data_dir, args.cuts)
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
