"""Token dumps of a data set for speech LMs: Kaldi archives, token lists, Lhotse cuts with
a ``codec_tokens`` array, ``lm_text`` for ESPnet's LM task, SecoustiCodec's
paralinguistic codes, and a joint text + codec BPE vocabulary (what each file holds:
``python -m espnet2_p2p.bin.dump_tokens --help``)."""

import json
from contextlib import nullcontext
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
from tqdm import tqdm

from espnet2_p2p.errors import P2PError
from espnet2_p2p.speechlm.tokenizer import P2PTokenizer

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
        info["paralinguistic_levels"] = tokenizer.coder.layout.side_info_levels
    (output_dir / "token_info.json").write_text(json.dumps(info, indent=2) + "\n")
    fs = tokenizer.sample_rate
    cut_list = [c if c.sampling_rate == fs else c.resample(fs) for c in cuts]
    out_cuts = []
    frames_lines, lm_lines = [], []
    ark, scp = output_dir / "tokens.ark", output_dir / "tokens.scp"
    para_spec = "ark,scp:{0}/paralinguistic.ark,{0}/paralinguistic.scp".format(output_dir)
    with (
        kaldiio.WriteHelper(f"ark,scp:{ark},{scp}") as writer,
        NumpyFilesWriter(output_dir / "arrays") as storage,
        kaldiio.WriteHelper(para_spec) if tokenizer.has_paralinguistic else nullcontext() as para,
    ):
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
                    cut.id,
                    t.numpy().astype(np.int16 if tokenizer.vocab_size < 2**15 else np.int32),
                    frame_shift=tokenizer.hop_length / fs,
                    temporal_dim=0,
                )
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


# --------------------------------------------------- BPE units of a codec token stream
#: Codec token i of a dump's ``lm_text`` is written as this character + i for BPE (CJK
#: ideographs and beyond: 1024-code and 4096-code vocabularies stay in printable planes).
UNIT_CHAR_BASE = 0x4E00


def _unit_string(tokens: List[str], index: dict) -> str:
    return "".join(chr(UNIT_CHAR_BASE + index[t]) for t in tokens)


def bpe_lm_text(src_dir: Path, out_dir: Path, nbpe: int = 2000, model: Optional[Path] = None) -> Path:
    """BPE units of a dump's codec tokens, for a speech LM over fewer, longer units.

    Each utterance's token string (``src_dir/lm_text``) becomes one string of characters
    (token i of ``lm_token_list`` -> ``chr(UNIT_CHAR_BASE + i)``); sentencepiece BPE
    (``nbpe`` pieces, trained here unless ``model`` is given: train on the train set,
    reuse its model for the others) cuts it into pieces. Writes ``out_dir/lm_text`` (the
    pieces, space-separated: ESPnet's ``--token_type word``), ``lm_token_list`` and, when
    trained, ``bpe.model``. Returns the model's path. Lossless: the pieces of an utterance
    joined give its tokens back (:func:`bpe_units_to_tokens`)."""
    import sentencepiece as spm

    names = (src_dir / "lm_token_list").read_text().split()
    index = {n: i for i, n in enumerate(names)}
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [line.split() for line in (src_dir / "lm_text").read_text().splitlines() if line.strip()]
    strings = [(parts[0], _unit_string(parts[1:], index)) for parts in lines]
    if model is None:
        corpus = out_dir / "bpe_train.txt"
        corpus.write_text("\n".join(s for _, s in strings) + "\n")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(out_dir / "bpe"),
            vocab_size=nbpe,
            model_type="bpe",
            character_coverage=1.0,
            max_sentence_length=1 << 16,
            max_sentencepiece_length=16,
            split_by_whitespace=False,
            add_dummy_prefix=False,
            bos_id=-1,
            eos_id=-1,
            unk_id=0,
            num_threads=1,
            minloglevel=2,
            hard_vocab_limit=False,  # a small corpus may hold fewer pieces
        )
        corpus.unlink()
        model = out_dir / "bpe.model"
    sp = spm.SentencePieceProcessor(model_file=str(model))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not sp.is_unknown(i)]
    text = [f"{utt} {' '.join(sp.encode(s, out_type=str))}" for utt, s in strings]
    (out_dir / "lm_text").write_text("\n".join(text) + "\n")
    (out_dir / "lm_token_list").write_text("\n".join([*LM_SPECIALS, *pieces, LM_EOS]) + "\n")
    return Path(model)


def bpe_units_to_tokens(pieces: List[str], token_list: List[str]) -> List[str]:
    """BPE pieces of :func:`bpe_lm_text` -> the codec token names they stand for."""
    return [token_list[ord(c) - UNIT_CHAR_BASE] for c in "".join(pieces)]


def dump_of(tokens_dir: Optional[Path], fingerprint_hex: str) -> Optional[dict]:
    """token_info.json of a token dump of the model of that fingerprint, else None."""
    info_file = None if tokens_dir is None else tokens_dir / "token_info.json"
    if info_file is None or not info_file.is_file():
        return None
    info = json.loads(info_file.read_text())
    return info if info.get("model_fingerprint") == fingerprint_hex else None


def tokens_from_dump(layout, info: dict, tokens_dir: Path) -> List[np.ndarray]:
    import kaldiio

    streams = layout.transmitted_streams
    sizes = list(layout.stream_sizes[:streams])
    if info["codebook_sizes"][:streams] != sizes:
        raise P2PError(f"{tokens_dir}: codebooks {info['codebook_sizes']}, the model transmits {sizes}")
    offsets = np.asarray(info["offsets"][:streams])[:, None]
    out = []
    for ids in kaldiio.load_scp(str(tokens_dir / "tokens.scp")).values():
        ids = np.asarray(ids, dtype=np.int64)
        flat = ids.reshape(-1, info["streams"]).T if info["order"] == "frame" else ids.reshape(info["streams"], -1)
        out.append(flat[:streams] - offsets)
    return out
