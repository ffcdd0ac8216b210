"""Coders: audio of any length to tokens and back, one per backend, one contract.

A *coder* is what every client codes through: the ``p2p-codec`` command line, the
tokenizer, the recipe's decoding, ``fit_prior``, the demo and the benchmarks. It holds a
loaded model with its :class:`~espnet2_p2p.layout.Layout`, its ``fingerprint`` (the 8
bytes a ``.p2p`` file names its model by) and its entropy-coding ``prior`` (or None), and
it chooses how to code a long input itself:

- :class:`TorchCoder` (a codec of ``codec/`` in PyTorch): a streaming codec
  (``layout.streaming``: SecoustiCodec, a causal P2PSynCodec) is coded piece by piece,
  exactly; the others in overlapping chunks (:mod:`espnet2_p2p.coding.torch_chunks`);
- :class:`espnet2_p2p.onnx.OnnxCodec` (an export on ONNX Runtime, no torch): the same
  chunk plan, so the same ``.p2p`` files.

Both ask :func:`espnet2_p2p.coding.chunks.coding_plan`, the one place that chooses.

The contract (:class:`Coder`)::

    codes, side = coder.encode_file(read, num_samples, streams, chunk_seconds, context_seconds, progress)
    coder.decode_file(codes, num_samples, write, chunk_seconds, context_seconds, progress, side_info)

``read(start, end)`` gives mono float samples at ``layout.fs``; ``codes`` are int64
(streams, frames); ``side`` the side information as bytes (b"" when the codec has none);
``write`` receives the decoded samples in order, ``num_samples`` in all; ``progress`` is
called with the frames done. :func:`open_coder` loads either backend from what a user
names. Nothing outside ``codec/`` and this module asks which codec it holds.
"""

import os
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Optional, Tuple

import numpy as np

from espnet2_p2p.coding.chunks import (  # noqa: F401  (chunked_length: where the choice is made, named here too)
    DEFAULT_CHUNK_SECONDS,
    DEFAULT_CONTEXT_SECONDS,
    CodingPlan,
    chunked_length,
    coding_plan,
)
from espnet2_p2p.errors import P2PError, TokenError
from espnet2_p2p.layout import Layout, check_streams
from espnet2_p2p.utils.checks import check_audio_array, checked_reader, whole_number

Reader = Callable[[int, int], np.ndarray]
Writer = Callable[[np.ndarray], None]
Progress = Optional[Callable[[int], None]]


class Coder(ABC):
    """What both backends offer (see the module docstring). The checks and the chunk plan
    are made here, once; a backend says how it plans (``_plan``: the
    :class:`~espnet2_p2p.coding.chunks.CodingPlan` of ``num_frames``) and codes a planned
    input (``_encode_planned``, ``_decode_planned``), and checks tokens (``_check_codes``)."""

    layout: Layout
    fingerprint: bytes
    prior: object

    def encode_file(
        self,
        read: Reader,
        num_samples: int,
        streams: str = "transmitted",
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
        context_seconds: float = DEFAULT_CONTEXT_SECONDS,
        progress: Progress = None,
    ) -> Tuple[np.ndarray, bytes]:
        """Tokens (streams, frames) and side information (b"" when the codec has none) of
        ``read``'s ``num_samples`` (``chunk_seconds`` None: whole)."""
        check_streams(streams)
        read = checked_reader(read, num_samples, sample_rate=self.layout.fs)
        plan = self._plan(self.layout.frames_for(num_samples), chunk_seconds, context_seconds)
        return self._encode_planned(read, num_samples, streams, plan, progress)

    def decode_file(
        self,
        codes: np.ndarray,
        num_samples: int,
        write: Writer,
        chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
        context_seconds: float = DEFAULT_CONTEXT_SECONDS,
        progress: Progress = None,
        side_info=None,
    ) -> None:
        """Decode tokens (streams, frames); ``write`` gets the samples in order. ``side_info``:
        a file's bytes or integer codes (a codec with side information: None decodes with
        its neutral vector)."""
        codes = self._check_codes(codes)
        num_samples = whole_number(num_samples, "num_samples", TokenError)
        if codes.shape[-1] != self.layout.frames_for(num_samples):
            raise TokenError(
                f"{codes.shape[-1]} frames do not fit {num_samples} samples (hop {self.layout.hop_length})"
            )
        plan = self._plan(codes.shape[-1], chunk_seconds, context_seconds)
        self._decode_planned(codes, num_samples, write, plan, progress, side_info)

    # The hooks a backend supplies (TorchCoder, onnx.runtime.OnnxCodec); a class that leaves
    # one out cannot be instantiated (TypeError naming it).
    @abstractmethod
    def _plan(self, num_frames: int, chunk_seconds, context_seconds) -> CodingPlan:
        """The chunk plan of ``num_frames`` code frames."""

    @abstractmethod
    def _check_codes(self, codes) -> np.ndarray:
        """``codes`` as an integer array (streams, frames), checked against the layout."""

    @abstractmethod
    def _encode_planned(self, read, num_samples, streams, plan, progress):
        """Tokens and side information of a checked reader, coded by ``plan``."""

    @abstractmethod
    def _decode_planned(self, codes, num_samples, write, plan, progress, side_info) -> None:
        """Decode checked tokens by ``plan``, writing the samples in order."""


class TorchCoder(Coder):
    """A PyTorch codec of this package as a :class:`Coder`.

    Args:
        codec: The codec (``model.codec`` of a loaded model, or the model).
        fingerprint (bytes): Its fingerprint (default: computed from its weights).
        prior: Its entropy-coding prior, or None.
    """

    def __init__(self, codec, fingerprint: Optional[bytes] = None, prior=None):
        from espnet2_p2p.codec.base import as_codec

        self.codec = as_codec(codec)
        self.layout: Layout = self.codec.layout
        self._fingerprint, self.prior = fingerprint, prior

    @property
    def fingerprint(self) -> bytes:
        """The model's 8-byte fingerprint (computed from its weights when first asked)."""
        if self._fingerprint is None:
            from espnet2_p2p.model_io import fingerprint

            self._fingerprint = fingerprint(self.codec)
        return self._fingerprint

    def _plan(self, num_frames: int, chunk_seconds, context_seconds):
        return coding_plan(self.layout, num_frames, chunk_seconds, context_seconds)

    def _check_codes(self, codes):
        return self.layout.check_codes(codes, plain=True)  # a teacher decodes its plain stream alone

    def _encode_planned(self, read, num_samples, streams, plan, progress):
        from espnet2_p2p.coding import torch_chunks

        side = torch_chunks.side_info(self.codec, read, num_samples)
        if plan.stream:
            return torch_chunks.stream_encode(self.codec, read, num_samples, plan.chunks, streams, progress), side
        return torch_chunks.encode(self.codec, read, num_samples, streams, progress=progress, chunks=plan.chunks), side

    def _decode_planned(self, codes, num_samples, write, plan, progress, side_info):
        from espnet2_p2p.coding import torch_chunks

        if plan.stream:
            torch_chunks.stream_decode(self.codec, codes, num_samples, write, plan.chunks, progress, side_info)
        else:
            torch_chunks.decode(
                self.codec, codes, num_samples, write, progress=progress, side_info=side_info, chunks=plan.chunks
            )

    # ------------------------------------------------- in-memory batches
    def encode_batch(self, x, lengths=None, streams: str = "transmitted"):
        """Tokens (streams, B, frames) of a batch (B, 1, T) on the codec's device; with
        ``lengths`` (B,), item b's frames are those it gets alone (later frames are 0 for a
        streaming codec, whose frames past an item's end see only padding)."""
        check_streams(streams)
        codec = self.codec
        if streams == "all" and self.layout.predicts_streams:
            return codec.tokens(x, lengths)
        if self.layout.streaming:
            codes = codec.encode(x)[: self.layout.num_streams(streams)]
            if lengths is not None:
                for b, n in enumerate(lengths):
                    codes[:, b, self.layout.frames_for(int(n)) :] = 0
            return codes
        if streams == "all":
            return codec.tokens(x, lengths)
        return codec.encode(x, lengths)[: self.layout.num_streams(streams)]

    def decode_batch(self, codes, length: Optional[int] = None, side_info=None):
        """Audio (B, 1, T) of tokens (streams, B, frames) on the codec's device."""
        return self.codec.decode_tokens(codes, length=length, side_info=side_info)

    def teacher_tokens(self, audio) -> np.ndarray:
        """A student's targets: every stream a full encoding of mono samples (T,) gives
        (streams, frames); a codec that predicts no streams raises ValueError."""
        import torch

        x = torch.from_numpy(check_audio_array(audio, sample_rate=self.layout.fs))
        device = next(self.codec.parameters()).device
        with torch.no_grad():
            return self.codec.teacher_tokens(x.view(1, 1, -1).to(device))[:, 0].cpu().numpy()

    def side_info(self, audio) -> bytes:
        """Side information of mono samples (T,) (their first seconds), b"" when none."""
        import torch

        if not self.layout.side_info_bytes:
            return b""
        x = torch.from_numpy(check_audio_array(audio, sample_rate=self.layout.fs))
        device = next(self.codec.parameters()).device
        return self.codec.side_info(x.view(1, 1, -1).to(device))


# ------------------------------------------------------------------ loading
def torch_device(device: str):
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise P2PError(f"device {device!r}: not a device (auto, cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise P2PError(f"device {device!r}: no CUDA GPU is available here")
    if dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count():
        raise P2PError(f"device {device!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    return dev


def open_coder(
    model=None,
    backend: str = "torch",
    name: Optional[str] = None,
    device: str = "cpu",
    threads: int = 0,
    notify: Callable[[str], None] = lambda message: None,
) -> Coder:
    """A coder of ``model`` on ``backend`` ("torch" or "onnxruntime").

    ``model``: for torch a packed zip, an experiment dir or a ``.pth``
    (:func:`espnet2_p2p.model_io.load_codec`); for ONNX Runtime a folder written by
    ``p2p-codec export``, or a torch model, exported once into the cache
    (:func:`cached_export`, which checks the entry's model before using it). None: ``$P2P_CODEC_MODEL``, else the shipped model. ``name``
    picks a model of a packed zip; ``notify`` receives one-line notices (which model, an
    export being made)."""
    if backend not in ("torch", "onnxruntime"):
        raise P2PError(f"backend must be torch or onnxruntime, got {backend!r}")
    from espnet2_p2p.onnx.runtime import check_threads

    threads = check_threads(threads)
    from espnet2_p2p import pretrained

    chosen = pretrained.chosen_model(model)
    if chosen != model and str(chosen).startswith(str(pretrained.HERE)):
        notify(f"model: the shipped {pretrained.which_file(chosen)} ({chosen})")
    model = chosen
    if backend == "onnxruntime":
        from espnet2_p2p.onnx import OnnxCodec

        folder = Path(model)  # an export; a model file is exported into the cache once
        return OnnxCodec(folder, threads=threads) if folder.is_dir() else cached_export(folder, name, notify, threads)
    import torch

    from espnet2_p2p.model_io import check_prior_fits, load_codec, load_prior

    if threads > 0:
        torch.set_num_threads(threads)
    loaded = load_codec(model, name, torch_device(device))
    prior = load_prior(model, name)
    check_prior_fits(prior, loaded.codec, str(model))
    return TorchCoder(loaded.codec, prior=prior)


def cache_root() -> Path:
    """Where exports made on first use are kept: ``$P2P_CODEC_CACHE``, else
    ``$XDG_CACHE_HOME/espnet2_p2p``, else ``~/.cache/espnet2_p2p``."""
    if os.environ.get("P2P_CODEC_CACHE"):
        return Path(os.environ["P2P_CODEC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "espnet2_p2p"


def model_identity(model, name: Optional[str] = None) -> Tuple[bytes, bytes]:
    """(fingerprint, prior fingerprint or b"") of a torch model file: from a packed zip's
    ``meta.json`` when it records them (the shipped model's does), else from the model
    itself (loaded, not exported)."""
    from espnet2_p2p.coding.files import packed_spec

    spec = packed_spec(model, name)
    if spec is not None:
        return spec.fingerprint, spec.prior_fingerprint
    from espnet2_p2p.model_io import fingerprint, load_codec, load_prior

    prior = load_prior(model, name)
    return fingerprint(load_codec(model, name)), prior.fingerprint() if prior is not None else b""


def cached_export(model, name: Optional[str], notify: Callable[[str], None], threads: int = 0):
    """The ONNX export of a torch model (a packed zip or a ``.pth`` file) as a loaded
    :class:`~espnet2_p2p.onnx.OnnxCodec`, made once into ``cache_root()/onnx/<SHA-256 of
    the file>[-name]``.

    An entry is used only when it loads and is of this model: its fingerprint (and its
    prior's) must be the model's (:func:`model_identity`); a damaged, interrupted or
    replaced entry (another model's export copied over it) is made again. An export is
    written into a temporary folder and renamed into place, so a process never sees a
    half-written entry, and an entry that is in use (one that loads and fits) is never
    removed: only an unusable one is moved aside, by one rename, before the new one
    takes its place."""
    import hashlib
    import shutil
    import tempfile
    import uuid

    from espnet2_p2p.errors import ModelLoadError
    from espnet2_p2p.onnx import OnnxCodec

    path = Path(model)
    if not path.is_file():
        raise P2PError(
            f"--backend onnxruntime: {model} is neither a folder written by `p2p-codec export` nor a model file"
        )
    # the key covers everything the export is made of: the file, and beside a .pth file
    # its config.yaml and prior.npz
    digest = hashlib.sha256()
    parts = [path] + ([path.parent / "config.yaml", path.parent / "prior.npz"] if path.suffix == ".pth" else [])
    for part in parts:
        digest.update(part.name.encode() + b"\0")
        if part.is_file():
            with open(part, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    key = digest.hexdigest()[:32] + (f"-{name}" if name else "")
    target = cache_root() / "onnx" / key
    want, want_prior = model_identity(path, name)

    def load():
        """The entry at ``target`` if it loads and is of this model, else None."""
        if not (target / "codec.json").is_file():
            return None
        try:
            codec = OnnxCodec(target, threads=threads)
        except ModelLoadError as e:
            notify(f"the cached export {target} does not load ({e}); making it again")
            return None
        got_prior = codec.prior.fingerprint() if codec.prior is not None else b""
        if (codec.fingerprint, got_prior) != (want, want_prior):
            notify(
                f"the cached export {target} is of model {codec.fingerprint.hex()}"
                f"{f' (prior {got_prior.hex()})' if got_prior else ''}, not of {path.name}'s {want.hex()}"
                f"{f' (prior {want_prior.hex()})' if want_prior else ''}; making it again"
            )
            return None
        return codec

    codec = load()
    if codec is not None:
        return codec
    notify(f"exporting {path.name} to ONNX once, into {target} (about a minute)")
    work = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=target.parent))
        from espnet2_p2p.onnx.export import export

        export(path, work, name)
        for _ in range(3):
            try:
                os.rename(work, target)  # fails while an entry is there
                work = None
                break
            except OSError:
                codec = load()
                if codec is not None:  # another process made it meanwhile: use theirs
                    return codec
                aside = target.with_name(f".{key}-unusable-{uuid.uuid4().hex[:8]}")
                try:
                    os.rename(target, aside)  # only an unusable entry is moved, in one step
                except FileNotFoundError:
                    continue
                shutil.rmtree(aside, ignore_errors=True)
    except P2PError:
        raise
    except OSError as e:
        raise P2PError(
            f"cannot write the ONNX cache {target.parent}: {e.strerror or e} (set $P2P_CODEC_CACHE)"
        ) from None
    except Exception as e:  # the exporter's own errors
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise P2PError(f"exporting {path} to ONNX failed: {first[:300]}") from None
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    codec = load()
    if codec is None:
        raise P2PError(f"the ONNX export of {path} in {target} is not of this model ({want.hex()})")
    return codec


def say_to_stderr(quiet: bool) -> Callable[[str], None]:
    """A ``notify`` that writes a line to stderr (above progress bars) unless ``quiet``."""

    def say(message: str) -> None:
        if not quiet:
            from tqdm import tqdm

            tqdm.write(message, file=sys.stderr)

    return say
