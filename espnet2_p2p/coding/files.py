"""Files in, files out: audio to ``.p2p`` files, tokens (``.npy``) and back, through a
:mod:`~espnet2_p2p.coding.coder` of either backend. The ``p2p-codec`` command line, ``fit_prior``
and the demo call this; it reads audio with :class:`~espnet2_p2p.audio.AudioSource`
(resampling and downmixing with notices) and writes every output atomically.

The inputs of a run (:func:`list_inputs`: a file, a folder, a ``wav.scp``), their outputs
(:func:`plan_outputs`) and the file-coding commands (:data:`JOBS`: what each reads and
writes, its options, what it does with one file) are here too: ``p2p-codec`` builds its
``encode``, ``decode`` and ``tokens`` commands from :data:`JOBS`, so an output format is
one entry there."""

import errno
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from espnet2_p2p.coding.chunks import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS
from espnet2_p2p.container.bitstream import ModelSpec, P2PFile, P2PHeader
from espnet2_p2p.container.entropy import MAX_CODED_TOKENS
from espnet2_p2p.errors import P2PError, naming
from espnet2_p2p.layout import check_streams
from espnet2_p2p.utils.files import temp_path


def packed_spec(model=None, name: Optional[str] = None) -> Optional[ModelSpec]:
    """What a format-4 file of a packed zip's model leaves out, from the zip's
    ``meta.json`` alone (no torch): None when ``model`` is not a packed zip or its
    ``meta.json`` records no layout (zips packed before format 4). ``model`` None: as
    :func:`~espnet2_p2p.coding.coder.open_coder` (``$P2P_CODEC_MODEL``, else the shipped model)."""
    import json
    import zipfile

    from espnet2_p2p import pretrained
    from espnet2_p2p.layout import Layout

    model = pretrained.chosen_model(model)
    try:
        with zipfile.ZipFile(model) as zf:
            models = json.loads(zf.read("meta.json"))["models"]
            name = name or ("student" if "student" in models else next(iter(models)) if len(models) == 1 else None)
            entry = models[name]
            if bool(entry.get("prior_fingerprint")) != (f"{name}/prior.npz" in zf.namelist()):
                return None  # meta.json does not describe the zip's prior: read the model
        layout = Layout(**{**entry["layout"], "stream_sizes": tuple(entry["layout"]["stream_sizes"])})
        return ModelSpec.of(
            layout, bytes.fromhex(entry["fingerprint"]), bytes.fromhex(entry.get("prior_fingerprint") or "")
        )
    except (OSError, zipfile.BadZipFile, KeyError, TypeError, ValueError, StopIteration):
        return None  # not a packed zip with a recorded layout: the model itself is read


class FileCoder:
    """Codes files with ``coder``.

    Args:
        coder: A :class:`~espnet2_p2p.coding.coder.Coder` (:func:`~espnet2_p2p.coding.coder.open_coder`).
        chunk_seconds, context_seconds: How long inputs are cut (the coder's plan).
        notify: Receives one-line notices (a resampled input, clipping).
        progress (bool): A progress bar (in frames) for inputs of more than two chunks.
    """

    def __init__(
        self,
        coder,
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
        context_seconds: float = DEFAULT_CONTEXT_SECONDS,
        notify: Callable[[str], None] = lambda message: None,
        progress: bool = True,
    ):
        self.coder, self.notify, self.show_progress = coder, notify, progress
        self.chunk_seconds, self.context_seconds = chunk_seconds, context_seconds

    @property
    def layout(self):
        return self.coder.layout

    def _progress(self, total: int, name: str):
        from tqdm import tqdm

        long = total > 2 * self.chunk_seconds * self.layout.frame_rate
        bar = tqdm(total=total, desc=name, unit="frame", leave=False, disable=not self.show_progress or not long)
        return bar, (lambda done: bar.update(done - bar.n))

    def tokens_of(self, path: Path, streams: str = "transmitted") -> Tuple[np.ndarray, bytes, int]:
        """(tokens (streams, frames), side information, samples) of an audio file;
        ``streams``: "transmitted", "all" or "plain" (stream 0)."""
        from espnet2_p2p.audio import AudioSource

        check_streams(streams, plain=True)
        with AudioSource(path, self.layout.fs) as src:
            bar, update = self._progress(self.layout.frames_for(src.num_samples), path.name)
            with bar:
                codes, side = self.coder.encode_file(
                    src.read,
                    src.num_samples,
                    "all" if streams == "all" else "transmitted",
                    self.chunk_seconds,
                    self.context_seconds,
                    update,
                )
            for notice in src.final_notices():
                self.notify(f"{path}: {notice}")
        return (codes[:1] if streams == "plain" else codes), side, src.num_samples

    def tokens_of_list(self, path: Path, max_seconds: Optional[float] = None) -> List[np.ndarray]:
        """The transmitted tokens (streams, frames) of every audio file of ``path`` (a wav.scp,
        a folder or one file: :func:`list_inputs`), in order, with a progress bar; the files
        up to the one that makes ``max_seconds`` of audio."""
        from tqdm import tqdm

        out, seconds = [], 0.0
        for _, audio in tqdm(list_inputs(path, AUDIO_EXTS), desc="tokens", unit="file"):
            codes, _, num_samples = self.tokens_of(audio)
            out.append(codes)
            seconds += num_samples / self.layout.fs
            if max_seconds is not None and seconds >= max_seconds:
                break
        return out

    def encode(self, path: Path, out: Path, entropy: bool = True) -> None:
        """Audio file -> ``.p2p`` (entropy-coded when the model has a prior and ``entropy``)."""
        with naming(path):
            self._encode(path, out, entropy)

    def _encode(self, path: Path, out: Path, entropy: bool) -> None:
        codes, side, num_samples = self.tokens_of(path)
        p2p = P2PFile.of(self.layout, codes, num_samples, self.coder.fingerprint, side)
        prior = self.coder.prior if entropy else None
        if prior is not None and codes.size > MAX_CODED_TOKENS:
            self.notify(
                f"{path}: {codes.size} tokens, more than an entropy-coded file holds ({MAX_CODED_TOKENS}):"
                " written at fixed width"
            )
            prior = None
        out.parent.mkdir(parents=True, exist_ok=True)
        p2p.write(out, prior)

    def tokens(self, path: Path, out: Path, streams: str = "transmitted") -> None:
        """Audio file -> ``.npy`` tokens (frames, streams), int64."""
        with naming(path):
            codes, _, _ = self.tokens_of(path, streams)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(out, ".npy")
        try:
            np.save(tmp, np.ascontiguousarray(codes.T))
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)

    def decode(self, path: Path, out: Path, subtype: str = "PCM_16") -> None:
        """``.p2p`` -> audio file (FLAC for a ``.flac`` name, else WAV); a peak above full
        scale is clipped (noticed) unless ``subtype`` is FLOAT."""
        with naming(path):
            self._decode(path, out, subtype)

    def _decode(self, path: Path, out: Path, subtype: str) -> None:
        import soundfile as sf

        p2p = P2PFile.read(path, self.coder.prior, self.layout, self.coder.fingerprint)
        header = p2p.header
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(out)
        fmt = "FLAC" if out.suffix.lower() == ".flac" else "WAV"
        peak = [0.0]

        def write(samples: np.ndarray) -> None:
            peak[0] = max(peak[0], float(np.abs(samples).max()) if samples.size else 0.0)
            f.write(np.clip(samples, -1.0, 1.0) if subtype != "FLOAT" else samples)

        try:
            with sf.SoundFile(tmp, "w", header.sample_rate, 1, subtype, format=fmt) as f:
                bar, update = self._progress(header.num_frames, path.name)
                with bar:
                    self.coder.decode_file(
                        p2p.codes,
                        header.num_samples,
                        write,
                        self.chunk_seconds,
                        self.context_seconds,
                        update,
                        side_info=header.side_info,
                    )
            tmp.replace(out)
        except sf.SoundFileError as e:  # libsndfile's own errors: a full disk, a file size limit
            raise OSError(
                errno.EIO, f"cannot write it: {(str(e).strip().splitlines() or ['?'])[-1]}", str(out)
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        if peak[0] > 1.0 and subtype != "FLOAT":
            self.notify(f"{path}: decoded peak {peak[0]:.2f} clipped to full scale")


AUDIO_EXTS = (".wav", ".flac", ".ogg")


def list_inputs(path: Path, exts) -> List[Tuple[str, Path]]:
    """(name, path) pairs: one file, a directory's files below it, or a wav.scp."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in exts and p.is_file())
        if not files:
            raise P2PError(f"{path} holds no {'/'.join(exts)} files")
        return [(str(p.relative_to(path).with_suffix("")), p) for p in files]
    if not path.exists():
        raise P2PError(f"{path} does not exist")
    if path.suffix == ".scp" or path.name == "wav.scp":
        from espnet2_p2p.utils.tables import read_kaldi_table

        pairs = [(name, Path(value)) for name, value in read_kaldi_table(path, "wav.scp").items()]
        for name, _ in pairs:
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise P2PError(f"{path}: the id {name!r} would write outside the output folder")
        return pairs
    return [(path.stem, path)]


def plan_outputs(inputs, output: Path, ext: str) -> List[Path]:
    """Output paths; refuses two inputs that would write one output, and any output that
    is one of the inputs (coding a file onto itself would destroy it)."""
    if len(inputs) == 1 and output.suffix and not output.is_dir():
        outputs = [output]
    else:
        outputs = [output / f"{name}{ext}" for name, _ in inputs]
    first = {}
    for (_, src), out in zip(inputs, outputs):
        key = out.resolve()
        if key in first:
            raise P2PError(f"{first[key]} and {src} would both be written to {out}; rename one")
        first[key] = src
    sources = {src.resolve(): src for _, src in inputs}
    for out in outputs:
        if out.resolve() in sources:
            raise P2PError(f"{out} is both an input and an output: refusing to overwrite the input")
    return outputs


def check_subtype(subtype: str, outputs: List[Path]) -> None:
    """Refuse a libsndfile subtype that is unknown or that an output's format cannot hold."""
    import soundfile as sf

    for out in outputs:
        if out.suffix.lower() not in (".wav", ".flac"):
            raise P2PError(
                f"{out}: decode writes .wav or .flac files, not {out.suffix or 'a name without an extension'}"
            )
    if subtype not in sf.available_subtypes():
        raise P2PError(f"--subtype {subtype}: unknown; e.g. PCM_16, PCM_24, FLOAT")
    for fmt in sorted({"FLAC" if out.suffix.lower() == ".flac" else "WAV" for out in outputs}):
        if not sf.check_format(fmt, subtype):
            raise P2PError(
                f"--subtype {subtype} cannot be written as {fmt}; {fmt} takes"
                f" {', '.join(sorted(sf.available_subtypes(fmt)))}"
            )


def describe(path: Path, spec: Optional[ModelSpec] = None) -> Tuple[str, P2PHeader]:
    """(what a ``.p2p`` file holds, its header): ``p2p-codec info``'s lines, the rates of
    :meth:`P2PHeader.rates`; a version-4 file is read with its model's ``spec``."""
    from espnet2_p2p import pretrained
    from espnet2_p2p.container import bitstream

    header = bitstream.read_header(path, spec if bitstream.is_compact(path) else None)
    size, rates = path.stat().st_size, header.rates()
    shipped = pretrained.which(header.fingerprint)
    lines = [
        f"file: {path} ({size} bytes, format {header.version})",
        f"sample rate: {header.sample_rate} Hz",
        f"samples: {header.num_samples} ({header.duration:.3f} s)",
        f"frames: {header.num_frames} ({header.frame_rate:g} Hz, hop {header.hop_length})",
        f"streams: {header.num_streams} transmitted of {1 + header.num_pseudo}"
        f" (codebooks {list(header.stream_sizes)}; N = {header.num_pseudo} pseudo VQs)",
        f"model fingerprint: {header.fingerprint.hex()}" + (f" (the shipped model {shipped})" if shipped else ""),
        f"nominal: {header.payload_bits} bits = {rates.nominal_bps:g} bit/s of whole frames,"
        f" {rates.payload_bps:.1f} bit/s of the audio's duration",
    ]
    if header.entropy_coded:
        lines.append(
            f"coded (prior {header.prior_fingerprint.hex()}): {rates.coded_bits} bits ="
            f" {rates.coded_bps:.1f} bit/s of the audio's duration, {100 * rates.saving:.1f}% below nominal"
        )
    padding = 0 if header.entropy_coded else rates.coded_bits - rates.payload_bits
    lines.append(
        f"container overhead: {header.overhead_bytes} bytes" + (f" + {padding} padding bits" if padding else "")
    )
    lines.append(f"whole file: {rates.per_second(8 * size):.1f} bit/s of the audio's duration")
    if header.side_info:
        lines.append(f"side information: {len(header.side_info)} bytes, sent once (e.g. a paralinguistic vector)")
    return "\n".join(lines), header


class Job(NamedTuple):
    """One file-coding command of ``p2p-codec``: its help, what it reads (``inputs``: the
    extensions of a folder's files) and writes (``output``: the extension of an output in a
    folder), its own options (argparse ``(flags, keywords)`` pairs), ``run(file_coder, path,
    out, args)`` for one input, and ``check(args, outputs)`` refusing bad options before
    any coding (or None)."""

    help: str
    input_help: str
    output_help: str
    inputs: Tuple[str, ...]
    output: str
    options: Tuple[Tuple[tuple, dict], ...]
    run: Callable
    check: Optional[Callable] = None


JOBS: Dict[str, Job] = {
    "encode": Job(
        "audio -> .p2p",
        "audio file, directory or wav.scp",
        ".p2p file or directory",
        AUDIO_EXTS,
        ".p2p",
        (
            (
                ("--no-entropy",),
                dict(dest="no_entropy", action="store_true", help="fixed-width tokens even when the model has a prior"),
            ),
        ),
        lambda files, path, out, args: files.encode(path, out, entropy=not args.no_entropy),
    ),
    "decode": Job(
        ".p2p -> audio",
        ".p2p file or directory",
        "audio file (.wav/.flac) or directory",
        (".p2p",),
        ".wav",
        ((("--subtype",), dict(default="PCM_16", help="libsndfile subtype: PCM_16, PCM_24, FLOAT")),),
        lambda files, path, out, args: files.decode(path, out, args.subtype),
        lambda args, outputs: check_subtype(args.subtype, outputs),
    ),
    "tokens": Job(
        "audio -> tokens (.npy, frames x streams)",
        "audio file, directory or wav.scp",
        ".npy file or directory",
        AUDIO_EXTS,
        ".npy",
        (
            (
                ("--streams",),
                dict(
                    choices=["transmitted", "all", "plain"],
                    default="transmitted",
                    help="transmitted: what a .p2p file carries (a student: the plain stream); all:"
                    " plain + the N pseudo streams; plain: stream 0 alone (the former default)",
                ),
            ),
        ),
        lambda files, path, out, args: files.tokens(path, out, args.streams),
    ),
}
