"""Data preparation through Lhotse: corpus -> manifests -> Kaldi-style data dirs.

Two steps, the recipe's stages 1 and 2::

    # stage 1: Lhotse manifests (recordings, supervisions, cuts) per split
    python -m espnet2_p2p.data.prepare manifests --corpus libritts \\
        --corpus_dir /data/LibriTTS --output_dir data/manifests
    # stage 2: Kaldi-style data dirs at the codec's rate (mono, duration filter)
    python -m espnet2_p2p.data.prepare format --manifest_dir data/manifests \\
        --sets train dev test --dumpdir dump --fs 16000

Corpora: ``espeak`` (the synthetic corpus of :mod:`espnet2_p2p.data.espeak`: one
Kaldi dir per split), ``folder`` (any folder of wavs, one split), ``libritts`` and
``vctk`` (Lhotse's own preparers on a local copy; nothing is downloaded) and
``speechocean762`` (its Kaldi dirs through Lhotse's Kaldi import, with the recipe's fixed
speaker-disjoint split). Each corpus is one ``prepare_<corpus>`` function in ``CORPORA``.

A data dir is written to ``<dir>.tmp`` and renamed when complete, so a failure never
leaves a partial data dir that a later stage would trust. Problems (missing corpus,
unreadable audio, an unexpected sampling rate) stop with one line naming the file.
"""

import argparse
import shutil
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import soundfile as sf
from lhotse import CutSet, Recording, RecordingSet, SupervisionSegment, SupervisionSet, combine
from tqdm import tqdm

from espnet2_p2p.errors import P2PError
from espnet2_p2p.utils.tables import read_kaldi_table

LIBRITTS_SPLITS = {
    "train": ["train-clean-100", "train-clean-360"],
    "dev": ["dev-clean"],
    "test": ["test-clean"],
}


class DataPrepError(P2PError):
    """A data problem, reported as one line."""


def _recording(path: Path, rec_id: str, expect_fs: Optional[int]) -> Recording:
    try:
        rec = Recording.from_file(path, recording_id=rec_id)
    except Exception as e:  # lhotse/soundfile raise several types
        raise DataPrepError(f"cannot read audio file {path}: {e}") from None
    if expect_fs is not None and rec.sampling_rate != expect_fs:
        raise DataPrepError(f"{path} is sampled at {rec.sampling_rate} Hz, this corpus should be {expect_fs} Hz")
    return rec


def read_table(path: Path) -> Dict[str, str]:
    """A Kaldi table (``<key> <value>`` per line) as a dict; values may be empty. An id
    given twice, or a line that does not fit its table, is refused
    (:func:`espnet2_p2p.utils.tables.read_kaldi_table`)."""
    return read_kaldi_table(path)


def from_kaldi_dir(data_dir: Path, expect_fs: Optional[int] = None) -> CutSet:
    """A Kaldi-style dir (wav.scp with file paths, optional text and utt2spk) -> cuts."""
    scp = data_dir / "wav.scp"
    if not scp.is_file():
        raise DataPrepError(f"{scp} does not exist")
    texts, speakers = (
        read_table(data_dir / name) if (data_dir / name).is_file() else {} for name in ("text", "utt2spk")
    )
    recordings, supervisions = [], []
    for utt, path in tqdm(read_table(scp).items(), desc=f"reading {data_dir}"):
        rec = _recording(Path(path), utt, expect_fs)
        recordings.append(rec)
        supervisions.append(
            SupervisionSegment(
                id=utt,
                recording_id=utt,
                start=0.0,
                duration=rec.duration,
                text=texts.get(utt),
                speaker=speakers.get(utt),
            )
        )
    return CutSet.from_manifests(
        recordings=RecordingSet.from_recordings(recordings),
        supervisions=SupervisionSet.from_segments(supervisions),
    )


def from_folder(folder: Path, expect_fs: Optional[int] = None) -> CutSet:
    """Every ``*.wav``/``*.flac`` under ``folder`` as one utterance (id: file stem)."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    if not paths:
        raise DataPrepError(f"no .wav or .flac files under {folder}")
    recordings = [_recording(p, p.stem, expect_fs) for p in tqdm(paths, desc=f"reading {folder}")]
    return CutSet.from_manifests(recordings=RecordingSet.from_recordings(recordings))


def _check_rates(cuts: CutSet, expect_fs: Optional[int]) -> CutSet:
    if expect_fs is not None:
        for cut in cuts:
            if cut.sampling_rate != expect_fs:
                source = cut.recording.sources[0].source
                raise DataPrepError(
                    f"{source} is sampled at {cut.sampling_rate} Hz, this corpus should be {expect_fs} Hz"
                )
    return cuts


def prepare_espeak(corpus_dir: Path, expect_fs: Optional[int], **_) -> Dict[str, CutSet]:
    """The synthetic espeak-ng corpus: one Kaldi dir per split."""
    splits = [d for d in ("train", "dev", "test") if (corpus_dir / d / "wav.scp").is_file()]
    if not splits:
        raise DataPrepError(f"{corpus_dir} has no train/dev/test dirs with a wav.scp")
    return {s: from_kaldi_dir(corpus_dir / s, expect_fs) for s in splits}


def prepare_folder(corpus_dir: Path, expect_fs: Optional[int], **_) -> Dict[str, CutSet]:
    """Any folder of wavs, as one split ``all``."""
    return {"all": from_folder(corpus_dir, expect_fs)}


def prepare_libritts(corpus_dir: Path, expect_fs: Optional[int], **_) -> Dict[str, CutSet]:
    """LibriTTS through Lhotse's own preparer; train-clean-100/360, dev-clean, test-clean."""
    from lhotse.recipes import prepare_libritts as lhotse_libritts

    parts = [p for ps in LIBRITTS_SPLITS.values() for p in ps if (corpus_dir / p).is_dir()]
    if not parts:
        raise DataPrepError(
            f"{corpus_dir} holds none of the LibriTTS parts {sorted(p for ps in LIBRITTS_SPLITS.values() for p in ps)}"
        )
    manifests = lhotse_libritts(corpus_dir, dataset_parts=parts)
    out = {}
    for split, split_parts in LIBRITTS_SPLITS.items():
        sets = [manifests[p] for p in split_parts if p in manifests]
        if sets:
            cuts = [CutSet.from_manifests(recordings=m["recordings"], supervisions=m["supervisions"]) for m in sets]
            out[split] = _check_rates(combine(cuts).to_eager(), expect_fs)
    return out


def _speaker_of(cut) -> str:
    return cut.supervisions[0].speaker


def prepare_vctk(corpus_dir: Path, expect_fs: Optional[int], num_test_speakers: int = 2, **_) -> Dict[str, CutSet]:
    """VCTK through Lhotse's preparer; the last speakers in sorted order are held out."""
    from lhotse.recipes import prepare_vctk as lhotse_vctk

    if not (corpus_dir / "wav48").is_dir() or not (corpus_dir / "speaker-info.txt").is_file():
        raise DataPrepError(f"{corpus_dir} lacks VCTK's wav48/ folder or speaker-info.txt")
    m = lhotse_vctk(corpus_dir)
    cuts = _check_rates(
        CutSet.from_manifests(recordings=m["recordings"], supervisions=m["supervisions"]),
        expect_fs,
    )
    # Held-out speakers: the last ones in sorted order go to test, the ones before to dev.
    speakers = sorted({_speaker_of(c) for c in cuts})
    if len(speakers) < 2 * num_test_speakers + 1:
        raise DataPrepError(f"VCTK at {corpus_dir} has only {len(speakers)} speakers")
    test = set(speakers[-num_test_speakers:])
    dev = set(speakers[-2 * num_test_speakers : -num_test_speakers])
    return {
        "train": cuts.filter(lambda c: _speaker_of(c) not in test | dev).to_eager(),
        "dev": cuts.filter(lambda c: _speaker_of(c) in dev).to_eager(),
        "test": cuts.filter(lambda c: _speaker_of(c) in test).to_eager(),
    }


def import_kaldi_dir(data_dir: Path, root: Path, expect_fs: Optional[int]) -> CutSet:
    """A Kaldi data dir whose wav.scp paths are relative to ``root``, through Lhotse's own
    Kaldi import (``lhotse.kaldi.load_kaldi_data_dir``).

    Lhotse takes the sampling rate on trust, so every file is opened first: an unreadable
    file or one at another rate stops with one line naming it.
    """
    import tempfile

    from lhotse.kaldi import load_kaldi_data_dir

    scp = data_dir / "wav.scp"
    if not scp.is_file():
        raise DataPrepError(f"{scp} does not exist")
    rows, rates = [], set()
    for utt, rel in tqdm(read_table(scp).items(), desc=f"checking {data_dir}"):
        path = (root / rel).resolve()
        try:
            info = sf.info(str(path))
        except Exception as e:  # soundfile raises several types for bad files
            raise DataPrepError(f"cannot read audio file {path}: {e}") from None
        if expect_fs is not None and info.samplerate != expect_fs:
            raise DataPrepError(f"{path} is sampled at {info.samplerate} Hz, this corpus should be {expect_fs} Hz")
        if info.frames == 0:
            raise DataPrepError(f"audio file {path} is empty")
        rates.add(info.samplerate)
        rows.append(f"{utt} {path}")
    if len(rates) != 1:
        raise DataPrepError(f"{data_dir}: files at several sampling rates {sorted(rates)}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "wav.scp").write_text("\n".join(rows) + "\n")
        for name in ("text", "utt2spk", "spk2gender"):
            if (data_dir / name).is_file():
                read_kaldi_table(data_dir / name)  # Lhotse would keep one of two lines of an id
                shutil.copy(data_dir / name, tmp / name)
        recordings, supervisions, _ = load_kaldi_data_dir(tmp, sampling_rate=rates.pop())
    return CutSet.from_manifests(recordings=recordings, supervisions=supervisions).to_eager()


def speechocean762_split(
    train_list: CutSet,
    test_list: CutSet,
    test_every: int = 5,
    dev_every: int = 5,
    dev_per_speaker: int = 2,
) -> Dict[str, CutSet]:
    """The fixed speaker-disjoint split of the speechocean762 recipe.

    test: every ``test_every``-th speaker of the corpus' test list in sorted id order
    (the 5th, 10th, ...: 25 of its 125 speakers); dev: the first ``dev_per_speaker``
    utterances (sorted ids) of every ``dev_every``-th remaining speaker; train: the rest of
    both lists.
    """
    test_speakers = sorted({_speaker_of(c) for c in test_list})[test_every - 1 :: test_every]
    if not test_speakers:
        raise DataPrepError("the corpus' test list has too few speakers for a test split")
    test_set = set(test_speakers)
    rest = [c for c in list(train_list) + list(test_list) if _speaker_of(c) not in test_set]
    others = sorted({_speaker_of(c) for c in rest})
    dev_speakers = set(others[dev_every - 1 :: dev_every])
    dev_ids = set()
    for spk in dev_speakers:
        ids = sorted(c.id for c in rest if _speaker_of(c) == spk)
        dev_ids.update(ids[:dev_per_speaker])
    return {
        "train": CutSet.from_cuts(c for c in rest if c.id not in dev_ids),
        "dev": CutSet.from_cuts(c for c in rest if c.id in dev_ids),
        "test": test_list.filter(lambda c: _speaker_of(c) in test_set).to_eager(),
    }


def prepare_speechocean762(corpus_dir: Path, expect_fs: Optional[int], **_) -> Dict[str, CutSet]:
    """speechocean762 (OpenSLR 101): its Kaldi dirs train/ and test/ (wav.scp relative to
    the corpus root), split by :func:`speechocean762_split`."""
    for part in ("train", "test"):
        if not (corpus_dir / part / "wav.scp").is_file():
            raise DataPrepError(
                f"{corpus_dir} is not a speechocean762 copy: {corpus_dir / part / 'wav.scp'} is missing"
            )
    train, test = (import_kaldi_dir(corpus_dir / p, corpus_dir, expect_fs) for p in ("train", "test"))
    return speechocean762_split(train, test)


# corpus name -> preparer(corpus_dir, expect_fs, **options) -> {split: cuts}
CORPORA = {
    "espeak": prepare_espeak,
    "folder": prepare_folder,
    "libritts": prepare_libritts,
    "vctk": prepare_vctk,
    "speechocean762": prepare_speechocean762,
}


def corpus_cuts(
    corpus: str, corpus_dir: Path, expect_fs: Optional[int] = None, num_test_speakers: int = 2
) -> Dict[str, CutSet]:
    """Split name -> cuts for one corpus on local disk."""
    if corpus not in CORPORA:
        raise DataPrepError(f"unknown corpus {corpus!r}; choose from {', '.join(CORPORA)}")
    if not corpus_dir.is_dir():
        raise DataPrepError(f"corpus directory {corpus_dir} does not exist")
    return CORPORA[corpus](corpus_dir, expect_fs, num_test_speakers=num_test_speakers)


def write_manifests(cuts_by_split: Dict[str, CutSet], output_dir: Path) -> None:
    """``<split>_recordings/_supervisions/_cuts.jsonl.gz`` for every split."""
    output_dir.mkdir(parents=True, exist_ok=True)
    for split, cuts in cuts_by_split.items():
        cuts = cuts.to_eager()
        cuts.decompose()[0].to_file(output_dir / f"{split}_recordings.jsonl.gz")
        supervisions = cuts.decompose()[1]
        if supervisions is not None:
            supervisions.to_file(output_dir / f"{split}_supervisions.jsonl.gz")
        cuts.to_file(output_dir / f"{split}_cuts.jsonl.gz")
        hours = sum(c.duration for c in cuts) / 3600
        print(f"{split}: {len(cuts)} cuts, {hours:.2f} h -> {output_dir}/{split}_cuts.jsonl.gz")


def format_data_dir(
    cuts: CutSet,
    output_dir: Path,
    fs: int = 16000,
    min_duration: float = 0.0,
    max_duration: float = float("inf"),
) -> int:
    """Cuts -> Kaldi-style dir at ``fs`` (mono 16-bit wavs under ``output_dir/wav``).

    Writes wav.scp, utt2spk, spk2utt, text and utt2num_samples; cuts outside
    [min_duration, max_duration] are dropped. Returns the number of utterances kept.
    """
    output_dir = Path(output_dir)
    tmp = output_dir.with_name(output_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "wav").mkdir(parents=True)
    rows = []
    try:
        for cut in tqdm(cuts, desc=f"formatting {output_dir.name}"):
            if not min_duration <= cut.duration <= max_duration:
                continue
            source = cut.recording.sources[0].source if cut.has_recording else cut.id
            try:
                audio = cut.resample(fs).load_audio()  # (channels, samples)
            except Exception as e:
                raise DataPrepError(f"cannot read audio of {cut.id} ({source}): {e}") from None
            audio = np.asarray(audio, dtype=np.float32).mean(axis=0)
            if audio.size == 0 or not np.isfinite(audio).all():
                raise DataPrepError(f"{source}: empty audio or NaN/Inf samples")
            peak = float(np.abs(audio).max())
            if peak > 1.0:  # resampling can overshoot full scale slightly
                audio = audio / peak
            sup = cut.supervisions[0] if cut.supervisions else None
            utt = sup.id if sup is not None else cut.recording_id  # one utterance per recording
            wav_path = (output_dir / "wav" / f"{utt}.wav").resolve()
            sf.write(str(tmp / "wav" / f"{utt}.wav"), audio, fs, subtype="PCM_16")
            speaker = sup.speaker if sup is not None and sup.speaker else utt
            text = (sup.text if sup is not None and sup.text else "").replace("\n", " ")
            rows.append((utt, str(wav_path), speaker, text, audio.size))
        if not rows:
            raise DataPrepError(f"no utterance of {output_dir.name} lies within the duration limits")
        write_kaldi_dir(tmp, sorted(rows))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(output_dir, ignore_errors=True)
    tmp.rename(output_dir)
    return len(rows)


def write_kaldi_dir(data_dir: Path, rows) -> None:
    """wav.scp, utt2spk, spk2utt, text, utt2num_samples from sorted rows of
    (utterance, wav path, speaker, text, number of samples)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    spk2utt: Dict[str, list] = {}
    for utt, _, spk, _, _ in rows:
        spk2utt.setdefault(spk, []).append(utt)
    files = {
        "wav.scp": [f"{u} {p}" for u, p, _, _, _ in rows],
        "utt2spk": [f"{u} {s}" for u, _, s, _, _ in rows],
        "text": [f"{u} {t}".rstrip() for u, _, _, t, _ in rows],
        "utt2num_samples": [f"{u} {n}" for u, _, _, _, n in rows],
        "spk2utt": [f"{s} {' '.join(us)}" for s, us in sorted(spk2utt.items())],
    }
    for name, lines in files.items():
        (data_dir / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("manifests", help="corpus -> Lhotse manifests per split")
    m.add_argument("--corpus", required=True, choices=sorted(CORPORA))
    m.add_argument("--corpus_dir", type=Path, required=True)
    m.add_argument("--output_dir", type=Path, required=True)
    m.add_argument("--expect_fs", type=int, default=None, help="refuse files at other rates")
    m.add_argument("--num_test_speakers", type=int, default=2, help="vctk: held-out speakers")
    f = sub.add_parser("format", help="cuts -> Kaldi-style data dirs at --fs")
    f.add_argument("--manifest_dir", type=Path, required=True)
    f.add_argument("--sets", nargs="+", required=True, help="splits: <set>_cuts.jsonl.gz")
    f.add_argument("--dumpdir", type=Path, required=True, help="writes <dumpdir>/<set>")
    f.add_argument("--force", action="store_true", help="redo sets that already exist")
    f.add_argument("--fs", type=int, default=16000)
    f.add_argument("--min_duration", type=float, default=0.0)
    f.add_argument("--max_duration", type=float, default=float("inf"))
    args = parser.parse_args(argv)
    try:
        if args.command == "manifests":
            cuts = corpus_cuts(args.corpus, args.corpus_dir, args.expect_fs, args.num_test_speakers)
            write_manifests(cuts, args.output_dir)
        else:
            for name in args.sets:
                cuts_file = args.manifest_dir / f"{name}_cuts.jsonl.gz"
                out = args.dumpdir / name
                if (out / "wav.scp").is_file() and not args.force:
                    print(f"{out} exists, skipping (--force to redo)")
                    continue
                if not cuts_file.is_file():
                    raise DataPrepError(f"{cuts_file} does not exist (run the manifest stage first)")
                n = format_data_dir(
                    CutSet.from_file(cuts_file),
                    out,
                    args.fs,
                    args.min_duration,
                    args.max_duration,
                )
                print(f"{out}: {n} utterances at {args.fs} Hz")
    except P2PError as e:  # DataPrepError, and a data dir's table that does not read
        sys.exit(f"data prep: {e}")


if __name__ == "__main__":
    main()
