"""What the tokens know: a small CTC ASR probe (issue 30, item 2).

A probe is an ESPnet model trained with CTC alone (ctc_weight 1.0) to spell the
transcript: over codec tokens through ESPnet's MT task (``model: discrete_asr``, the
token-input ASR of ESPnet's ``asr2`` recipes: an embedding per token, or the mean of the
per-stream embeddings of a frame for multi-stream tokens), and over log-mel features
through ESPnet's ASR task, with the same encoder (conf/asr_probe.yaml). Its character and
word error rates on held-out speakers say how much of the words survive in the input.

Text normalisation (speechocean762's transcripts are upper-case English): upper case;
every character other than A-Z and the apostrophe becomes a space; runs of spaces become
one. Targets are characters, the space written ``<space>`` (ESPnet's char tokenizer).

Scoring decodes greedily (the CTC path's best label per frame, repeats merged, blanks
dropped) and counts errors with jiwer.
"""

import json
import re
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

from espnet2_p2p.data.prepare import read_table

SPACE = "<space>"


def normalise(text: str) -> str:
    """The probe's text normalisation (see the module's docstring)."""
    return " ".join(re.sub(r"[^A-Z']+", " ", text.upper()).split())


def prepare_text(data_dirs: Dict[str, Path], out_dir: Path, train: str = "train") -> Path:
    """Write ``out_dir/SET/text`` (normalised) and ``text_shape`` (characters) for every
    set, and the character token list of the training set; returns the list's path."""
    chars = set()
    for name, data_dir in data_dirs.items():
        table = read_table(data_dir / "text")
        lines, shapes = [], []
        for utt in sorted(table):
            text = normalise(table[utt])
            if not text:
                continue  # nothing to spell: the utterance is left out of the probe
            lines.append(f"{utt} {text}")
            shapes.append(f"{utt} {len(text)}")
            if name == train:
                chars.update(text.replace(" ", ""))
        if not lines:
            raise SystemExit(f"asr_probe: {data_dir}/text has no transcript left after normalisation")
        (out_dir / name).mkdir(parents=True, exist_ok=True)
        (out_dir / name / "text").write_text("\n".join(lines) + "\n")
        (out_dir / name / "text_shape").write_text("\n".join(shapes) + "\n")
    token_list = out_dir / "chars.txt"
    token_list.write_text("\n".join(["<blank>", "<unk>", SPACE, *sorted(chars), "<sos/eos>"]) + "\n")
    return token_list


def ctc_greedy(logits, length: int, blank: int = 0) -> List[int]:
    """The best path's labels: argmax per frame, repeats merged, blanks dropped."""
    best = logits[:length].argmax(-1).tolist()
    out, prev = [], None
    for label in best:
        if label != prev and label != blank:
            out.append(label)
        prev = label
    return out


def labels_to_text(labels: Iterable[int], token_list: List[str]) -> str:
    chars = []
    for i in labels:
        token = token_list[i]
        if token == SPACE:
            chars.append(" ")
        elif not token.startswith("<"):
            chars.append(token)
    return " ".join("".join(chars).split())


def load_probe(exp_dir: Path, task: str):
    """The probe's best checkpoint, built by its ESPnet task ("mt" or "asr")."""
    if task == "mt":
        from espnet2.tasks.mt import MTTask as Task
    elif task == "asr":
        from espnet2.tasks.asr import ASRTask as Task
    else:
        raise ValueError(f"task {task!r}: 'mt' or 'asr'")
    checkpoints = sorted(exp_dir.glob("valid.*.best.pth"))
    if not checkpoints:
        raise SystemExit(f"asr_probe: no valid.*.best.pth in {exp_dir}: has the probe been trained?")
    model, args = Task.build_model_from_file(exp_dir / "config.yaml", checkpoints[0], "cpu")
    return model.eval(), args


def encoder_parameters(model) -> int:
    """Parameters on the CTC path (frontend, encoder, CTC layer): what the probe uses.
    ESPnet's discrete_asr model also builds an attention decoder, which ctc_weight 1.0
    gives no loss; it is not counted."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("decoder."))


def transcribe(model, args, task: str, inputs: Dict[str, str], batch: int = 8) -> Dict[str, str]:
    """Greedy CTC transcripts of ``inputs``: {utt: token line} (task mt: the source
    tokens, words of the model's source token list) or {utt: wav path} (task asr)."""
    import soundfile as sf
    import torch
    from tqdm import tqdm

    token_list = list(args.token_list)
    if task == "mt":
        src_index = {t: i for i, t in enumerate(args.src_token_list)}
        unk = src_index.get("<unk>", 1)

    def load(utt):
        if task == "mt":
            return torch.tensor([src_index.get(t, unk) for t in inputs[utt].split()], dtype=torch.long)
        audio, _ = sf.read(inputs[utt], dtype="float32", always_2d=True)
        return torch.from_numpy(audio.mean(1))

    out = {}
    utts = sorted(inputs)
    with torch.no_grad():
        for start in tqdm(range(0, len(utts), batch), desc="probe", unit="batch"):
            keys = utts[start : start + batch]
            items = [load(u) for u in keys]
            lengths = torch.tensor([len(x) for x in items])
            pad = -1 if task == "mt" else 0.0
            x = torch.nn.utils.rnn.pad_sequence(items, batch_first=True, padding_value=pad)
            enc, enc_lens = model.encode(x, lengths)
            logits = model.ctc.log_softmax(enc)
            for i, utt in enumerate(keys):
                out[utt] = labels_to_text(ctc_greedy(logits[i], int(enc_lens[i])), token_list)
    return out


def error_rates(refs: Dict[str, str], hyps: Dict[str, str]) -> Tuple[float, float]:
    """Corpus CER and WER (jiwer: edits over reference characters / words; the space
    counts as a character)."""
    import jiwer

    missing = sorted(set(refs) - set(hyps))
    if missing:
        raise SystemExit(f"asr_probe: {len(missing)} utterances have no hypothesis (e.g. {missing[0]})")
    utts = sorted(refs)
    ref, hyp = [refs[u] for u in utts], [hyps[u] or "" for u in utts]
    return float(jiwer.cer(ref, hyp)), float(jiwer.wer(ref, hyp))


def score(exp_dir: Path, task: str, inputs: Dict[str, str], text: Path, out_dir: Path) -> dict:
    """Transcribe, count errors and write ``out_dir/{hyp, score.json}``."""
    from espnet2_p2p.utils.train_log import read_curve

    model, args = load_probe(exp_dir, task)
    refs = read_table(text)
    hyps = transcribe(model, args, task, {u: inputs[u] for u in refs if u in inputs})
    cer, wer = error_rates(refs, hyps)
    log = exp_dir / "train.log"
    curve = read_curve(log, "loss") if log.is_file() else []
    result = dict(
        task=task,
        utts=len(refs),
        cer=cer,
        wer=wer,
        params=encoder_parameters(model),
        epochs=len(curve),
        hours=curve[-1].hours if curve else 0.0,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "hyp").write_text("".join(f"{u} {hyps[u]}\n" for u in sorted(hyps)))
    (out_dir / "score.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
