"""Files in, files out: audio to ``.p2p`` files, tokens (``.npy``) and back, through a
:mod:`~espnet2_p2p.coding.coder` of either backend. The ``p2p-codec`` command line, ``fit_prior``
and the demo call this; it reads audio with :class:`~espnet2_p2p.audio.AudioSource`
(resampling and downmixing with notices) and writes every output atomically."""

import errno
from pathlib import Path
from typing import Callable, Optional, Tuple

import numpy as np

from espnet2_p2p.container.bitstream import ModelSpec, P2PFile
from espnet2_p2p.errors import naming
from espnet2_p2p.container.entropy import MAX_CODED_TOKENS
from espnet2_p2p.layout import check_streams
from espnet2_p2p.coding.chunks import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS
from espnet2_p2p.utils.files import temp_path


def packed_spec(model=None, name: Optional[str] = None) -> Optional[ModelSpec]:
    """What a format-4 file of a packed zip's model leaves out, from the zip's
    ``meta.json`` alone (no torch): None when ``model`` is not a packed zip or its
    ``meta.json`` records no layout (zips packed before format 4). ``model`` None: as
    :func:`~espnet2_p2p.coding.coder.open_coder` (``$P2P_CODEC_MODEL``, else the shipped model)."""
    import json
    import os
    import zipfile

    from espnet2_p2p.layout import Layout

    from espnet2_p2p import pretrained

    model = pretrained.chosen_model(model)
    try:
        with zipfile.ZipFile(model) as zf:
            models = json.loads(zf.read("meta.json"))["models"]
            name = name or ("student" if "student" in models else next(iter(models)) if len(models) == 1 else None)
            entry = models[name]
            if bool(entry.get("prior_fingerprint")) != (f"{name}/prior.npz" in zf.namelist()):
                return None  # meta.json does not describe the zip's prior: read the model
        layout = Layout(**{**entry["layout"], "stream_sizes": tuple(entry["layout"]["stream_sizes"])})
        return ModelSpec.of(layout, bytes.fromhex(entry["fingerprint"]), bytes.fromhex(entry.get("prior_fingerprint") or ""))
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

    def __init__(self, coder, chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
                 context_seconds: float = DEFAULT_CONTEXT_SECONDS,
                 notify: Callable[[str], None] = lambda message: None, progress: bool = True):  # fmt: skip
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
                    src.read, src.num_samples, "all" if streams == "all" else "transmitted",
                    self.chunk_seconds, self.context_seconds, update,
                )  # fmt: skip
            for notice in src.final_notices():
                self.notify(f"{path}: {notice}")
        return (codes[:1] if streams == "plain" else codes), side, src.num_samples

    def encode(self, path: Path, out: Path, entropy: bool = True) -> None:
        """Audio file -> ``.p2p`` (entropy-coded when the model has a prior and ``entropy``)."""
        with naming(path):
            self._encode(path, out, entropy)

    def _encode(self, path: Path, out: Path, entropy: bool) -> None:
        codes, side, num_samples = self.tokens_of(path)
        p2p = P2PFile.of(self.layout, codes, num_samples, self.coder.fingerprint, side)
        prior = self.coder.prior if entropy else None
        if prior is not None and codes.size > MAX_CODED_TOKENS:
            self.notify(f"{path}: {codes.size} tokens, more than an entropy-coded file holds ({MAX_CODED_TOKENS}):"
                        " written at fixed width")  # fmt: skip
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
                        p2p.codes, header.num_samples, write, self.chunk_seconds, self.context_seconds, update,
                        side_info=header.side_info,
                    )  # fmt: skip
            tmp.replace(out)
        except sf.SoundFileError as e:  # libsndfile's own errors: a full disk, a file size limit
            raise OSError(errno.EIO, f"cannot write it: {(str(e).strip().splitlines() or ['?'])[-1]}", str(out)) from None
        finally:
            tmp.unlink(missing_ok=True)
        if peak[0] > 1.0 and subtype != "FLOAT":
            self.notify(f"{path}: decoded peak {peak[0]:.2f} clipped to full scale")
