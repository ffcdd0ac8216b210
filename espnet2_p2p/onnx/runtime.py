"""Run an exported codec with ONNX Runtime and numpy alone (no torch).

    from espnet2_p2p.onnx import OnnxCodec
    codec = OnnxCodec("exp/onnx")               # a folder written by `p2p-codec export`
    codes = codec.encode(audio)                 # audio: float mono at codec.fs, (T,)
    audio_hat = codec.decode(codes, len(audio))

It codes as the torch backend does, so ``.p2p`` files are interchangeable between the
two: the same fingerprint, the same tokens, audio equal to float rounding.

- P2PSynCodec (offline): long inputs go in the chunks of :mod:`espnet2_p2p.coding.torch_chunks`
  (the same plan, so the same tokens as ``p2p-codec`` with the torch backend).
- Causal P2PSynCodec and SecoustiCodec: the torch backend streams them exactly; their
  graphs here are the offline ones, equal to streaming, and an input is coded in one run
  of at most ``max_frames`` frames (``p2p-codec export --max_seconds``); a longer one is
  refused with one line.
"""

import json
import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from espnet2_p2p.coding.chunks import coding_plan, stitch_audio, stitch_tokens
from espnet2_p2p.coding.coder import Coder
from espnet2_p2p.errors import AudioInputError, ModelLoadError, P2PError, TokenError
from espnet2_p2p.layout import Layout
from espnet2_p2p.utils.checks import check_audio_array
from espnet2_p2p.utils.files import read_regular_file
from espnet2_p2p.utils.tokens import first_bad_token

FORMAT = "espnet2_p2p-onnx"
VERSION = 1
MAX_META_BYTES = 1 << 20
MAX_PRIOR_FILE_BYTES = 256 << 20
#: the most frames an export may say one run takes (93 hours at 50 Hz)
MAX_RUN_FRAMES = 1 << 24
#: a decoded sample beyond this (40 dB above full scale) is not audio but a broken graph
MAX_AUDIO_LEVEL = 100.0


def max_threads() -> int:
    """The most intra-op threads a coder takes: four per logical CPU (at least 16)."""
    return max(16, 4 * (os.cpu_count() or 1))


def check_threads(threads) -> int:
    """``threads`` as an int in [0, max_threads()] (0: the backend's default), else a P2PError."""
    try:
        value = int(threads)
    except (TypeError, ValueError, OverflowError):
        raise P2PError(f"threads must be a whole number, got {threads!r}") from None
    if not 0 <= value <= max_threads():
        raise P2PError(f"threads must be in [0, {max_threads()}] (0: the backend's default), got {value}")
    return value


def _entry(meta: dict, meta_path: Path, key: str, label: str, low: int, high: int) -> int:
    """``meta[key]``, a whole number in [low, high] (a JSON integer: not 1e9, not Infinity,
    not true), else a ModelLoadError naming it."""
    if key not in meta:
        raise ModelLoadError(f"{meta_path} lacks or garbles an entry: no {key!r}")
    value = meta[key]
    if type(value) is not int or not low <= value <= high:
        raise ModelLoadError(
            f"{meta_path} lacks or garbles an entry: {label} {value!r}, not a whole number in [{low}, {high}]"
        )
    return value


def _flag(meta: dict, meta_path: Path, key: str) -> bool:
    if type(meta.get(key)) is not bool:
        raise ModelLoadError(f"{meta_path} lacks or garbles an entry: {key} {meta.get(key)!r}, not true or false")
    return meta[key]


class OnnxCodec(Coder):
    """An exported codec (``codec.json``, ``encoder.onnx``, ``decoder.onnx``, a student's
    ``decoder_all.onnx``, optional ``prior.npz``) on ONNX Runtime.

    Args:
        folder: What ``p2p-codec export`` wrote.
        threads (int): Intra-op threads of ONNX Runtime (0: its default, all cores).
        providers: ONNX Runtime execution providers (default: CPU).
    """

    def __init__(self, folder, threads: int = 0, providers=None):
        threads = check_threads(threads)
        folder = Path(folder)
        meta_path = folder / "codec.json"
        if not meta_path.is_file():
            raise ModelLoadError(
                f"{folder} is not an exported codec (no codec.json); write one with"
                " `p2p-codec export --model MODEL --out DIR`"
            )
        if meta_path.stat().st_size > MAX_META_BYTES:
            raise ModelLoadError(
                f"{meta_path} holds {meta_path.stat().st_size} bytes, more than an export's codec.json"
            )
        try:
            meta = json.loads(meta_path.read_text(), parse_constant=lambda name: name)  # Infinity, NaN: garbled
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelLoadError(f"{meta_path} is not valid JSON: {e}") from None
        except RecursionError:
            raise ModelLoadError(f"{meta_path} is not an export's codec.json (nested too deeply)") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelLoadError(f"{meta_path} is not an espnet2_p2p ONNX export")
        if meta.get("version") != VERSION:
            raise ModelLoadError(f"{meta_path} is export version {meta.get('version')}; this runtime reads {VERSION}")
        self.folder, self.meta = folder, meta
        self._read_layout(meta, meta_path)
        self.prior = None
        if meta.get("prior"):
            from espnet2_p2p.container.entropy import BigramPrior

            prior_path = self._member(meta["prior"], "prior")
            try:
                self.prior = BigramPrior.from_bytes(read_regular_file(prior_path, MAX_PRIOR_FILE_BYTES))
            except OSError as e:
                raise ModelLoadError(f"{prior_path}: cannot read: {e.strerror or e}") from None
            except ValueError as e:
                raise ModelLoadError(f"{prior_path}: {e}") from None
        self.encoder = self._session(folder / "encoder.onnx", threads, providers)
        self.decoder = self._session(folder / "decoder.onnx", threads, providers)
        # a student's decoder of all 1 + N streams (language-model tokens); loaded when used
        self._decoder_all, self._options = None, (threads, providers)
        self._check_graph("encoder.onnx", self.encoder)
        self._check_graph("decoder.onnx", self.decoder)

    def _read_layout(self, meta: dict, meta_path: Path) -> None:
        """The layout and limits of ``codec.json``: every number a whole number within what
        a codec can be (the limits of the ``.p2p`` container), every flag a boolean."""
        from espnet2_p2p.container import bitstream

        sizes = meta.get("stream_sizes")
        if not (
            isinstance(sizes, list)
            and 1 <= len(sizes) <= 1 + bitstream.MAX_PSEUDO
            and all(type(k) is int and 2 <= k <= bitstream.MAX_CODEBOOK_SIZE for k in sizes)
        ):
            raise ModelLoadError(
                f"{meta_path} lacks or garbles an entry: codebook sizes {sizes!r}, not 1 to"
                f" {1 + bitstream.MAX_PSEUDO} whole numbers in [2, {bitstream.MAX_CODEBOOK_SIZE}]"
            )
        fs = _entry(meta, meta_path, "sample_rate", "sample rate", 1, bitstream.MAX_SAMPLE_RATE)
        hop = _entry(meta, meta_path, "hop_length", "hop", 1, bitstream.MAX_HOP)
        side_bytes = _entry(meta, meta_path, "side_info_bytes", "side-information codes", 0, bitstream.MAX_SIDE_INFO)
        try:
            bitstream.check_stream_sizes(sizes)
            self.layout = Layout(
                fs=fs,
                hop_length=hop,
                stream_sizes=tuple(sizes),
                transmitted_streams=_entry(
                    meta, meta_path, "transmitted_streams", "transmitted streams", 1, len(sizes)
                ),
                side_info_bytes=side_bytes,
                side_info_levels=_entry(meta, meta_path, "side_info_levels", "side-information levels", 0, 256),
                streaming=_flag(meta, meta_path, "causal"),
            )
        except ValueError as e:  # an impossible layout (Layout's and the container's own checks)
            raise ModelLoadError(f"{meta_path}: {e}") from None
        self.is_student = _flag(meta, meta_path, "student")
        if self.is_student != self.layout.predicts_streams:
            raise ModelLoadError(
                f"{meta_path}: student is {self.is_student}, but it transmits"
                f" {self.layout.transmitted_streams} of {len(sizes)} streams"
            )
        self.max_frames = _entry(meta, meta_path, "max_frames", "frames of one run", 4, MAX_RUN_FRAMES)
        self.reference_samples = (
            _entry(meta, meta_path, "reference_samples", "reference samples", 1, self.max_frames * hop)
            if "reference_samples" in meta
            else 0
        )
        fingerprint = meta.get("fingerprint")
        if not (
            isinstance(fingerprint, str)
            and len(fingerprint) == 16
            and all(c in "0123456789abcdef" for c in fingerprint)
        ):
            raise ModelLoadError(
                f"{meta_path} lacks or garbles an entry: fingerprint {fingerprint!r}, not 16 hex digits"
            )
        self.fingerprint = bytes.fromhex(fingerprint)

    def _graph_io(self, graph: str) -> Tuple[dict, dict]:
        """What a graph of this export takes and gives: ``{name: {axis: size}}`` of its inputs
        and outputs (rank 3 but the side codes (B, P); ``"hop"``: a time axis of whole
        frames, ``K*frames`` in the graph)."""
        codes_in = {0: self.transmitted_streams if graph == "decoder.onnx" else len(self.stream_sizes)}
        audio = {1: 1, 2: "hop"}
        if graph == "encoder.onnx":
            inputs = {"audio": audio, **({"reference": {1: 1}} if self.side_info_bytes else {})}
            return inputs, {
                "codes": {0: self.transmitted_streams},
                **({"side": {1: self.side_info_bytes}} if self.side_info_bytes else {}),
            }
        inputs = {"codes": codes_in, **({"side": {1: self.side_info_bytes}} if self.side_info_bytes else {})}
        pseudo = graph == "decoder.onnx" and self.predicts_streams
        return inputs, {
            "audio": audio,
            **({"pseudo": {0: len(self.stream_sizes) - self.transmitted_streams}} if pseudo else {}),
        }

    def _check_graph(self, graph: str, session) -> None:
        """Refuse a graph whose inputs and outputs are not what codec.json describes: their
        names and ranks, each fixed size, and the hop of each length of whole frames."""
        import re

        path = self.folder / graph
        for kind, got, want in zip(
            ("inputs", "outputs"), (session.get_inputs(), session.get_outputs()), self._graph_io(graph)
        ):
            if [x.name for x in got] != list(want):
                raise ModelLoadError(
                    f"{path}: its {kind} are {[x.name for x in got]}, codec.json describes"
                    f" {list(want)}: not this export's graph"
                )
            for x in got:
                rank = 2 if x.name == "side" else 3
                if len(x.shape) != rank:
                    raise ModelLoadError(
                        f"{path}: its {x.name} has {len(x.shape)} axes, not {rank}: not this export's graph"
                    )
                for axis, size in want[x.name].items():
                    dim = x.shape[axis]
                    if size == "hop":
                        match = re.fullmatch(r"\s*(\d+)\s*\*.*", dim) if isinstance(dim, str) else None
                        dim, size = (int(match.group(1)) if match else dim), self.hop_length
                    if isinstance(dim, int) and dim != size:
                        raise ModelLoadError(
                            f"{path}: its {x.name} has size {dim} on axis {axis}, codec.json says"
                            f" {size}: not this export's graph"
                        )

    def _member(self, name, entry: str) -> Path:
        """A file that codec.json names: a plain file name inside the export folder."""
        if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
            raise ModelLoadError(
                f"{self.folder / 'codec.json'}: {entry} must name a file of the export folder, got {name!r}"
            )
        return self.folder / name

    @staticmethod
    def _session(path: Path, threads: int, providers):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelLoadError(
                "the ONNX Runtime backend needs the onnxruntime package (pip install onnxruntime)"
            ) from None

        if not path.is_file():
            raise ModelLoadError(f"{path} is missing (an incomplete export)")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        # fatal messages only: ONNX Runtime's own error lines (a failed run, a bad graph)
        # would repeat on stderr what the one-line error raised here already says
        options.log_severity_level = 4
        try:
            return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own types for damaged files
            raise ModelLoadError(f"{path} does not load in ONNX Runtime: {str(e).splitlines()[0][:300]}") from None

    # ------------------------------------------------------------- layout
    @property
    def fs(self) -> int:
        return self.layout.fs

    @property
    def hop_length(self) -> int:
        return self.layout.hop_length

    @property
    def stream_sizes(self):
        return list(self.layout.stream_sizes)

    @property
    def transmitted_streams(self) -> int:
        return self.layout.transmitted_streams

    @property
    def side_info_bytes(self) -> int:
        return self.layout.side_info_bytes

    @property
    def side_info_levels(self) -> int:
        return self.layout.side_info_levels

    @property
    def frame_rate(self) -> float:
        return self.layout.frame_rate

    @property
    def streaming(self) -> bool:
        """Whether the export is of a causal codec (coded here in one run of the offline
        graphs, which equal its streaming path)."""
        return self.layout.streaming

    @property
    def predicts_streams(self) -> bool:
        return self.layout.predicts_streams

    def frames_for(self, num_samples: int) -> int:
        return self.layout.frames_for(num_samples)

    @property
    def decoder_all(self):
        """The student's session decoding all 1 + N streams (``decoder_all.onnx``)."""
        if self._decoder_all is None:
            session = self._session(self._member(self.meta["decoder_all"], "decoder_all"), *self._options)
            self._check_graph(self.meta["decoder_all"], session)
            self._decoder_all = session
        return self._decoder_all

    def _sessions(self, graph: str):
        """The session of a graph file: the encoder, the decoder, or the decoder of all streams."""
        return {"encoder.onnx": self.encoder, "decoder.onnx": self.decoder}.get(graph) or self.decoder_all

    # ------------------------------------------------------------ one run
    def _check_audio(self, audio) -> np.ndarray:
        return check_audio_array(audio, sample_rate=self.fs)

    def _run(self, graph: str, feed: dict, frames: int) -> dict:
        """Run one graph on ``frames`` frames; its outputs by name, each checked here, the one
        place: a graph that gives other shapes, non-finite or absurd audio, or tokens outside
        their codebooks (a damaged or replaced file) is refused with a ModelLoadError naming
        it, before anything of it is used."""
        session = self._sessions(graph)
        try:
            values = session.run(None, feed)
        except Exception as e:  # onnxruntime's own error types
            raise P2PError(f"ONNX Runtime failed in {self.folder / graph}: {str(e).splitlines()[0][:300]}") from None
        names = list(self._graph_io(graph)[1])
        out = dict(zip(names, values))
        sizes, sent = self.stream_sizes, self.transmitted_streams
        expected = {
            "codes": ((sent, 1, frames), sizes[:sent]),
            "side": ((1, self.side_info_bytes), [self.side_info_levels]),
            "pseudo": ((len(sizes) - sent, 1, frames), sizes[sent:]),
            "audio": ((1, 1, frames * self.hop_length), None),
        }
        for name, value in out.items():
            shape, codebooks = expected[name]
            problem = None
            if not isinstance(value, np.ndarray) or value.shape != shape:
                problem = f"shape {getattr(value, 'shape', type(value).__name__)}, expected {shape}"
            elif codebooks is None:
                if value.dtype.kind != "f" or not np.isfinite(value).all():
                    problem = (
                        "samples that are NaN or Inf" if value.dtype.kind == "f" else f"samples of type {value.dtype}"
                    )
                elif value.size and float(np.abs(value).max()) > MAX_AUDIO_LEVEL:
                    problem = f"a sample of {float(np.abs(value).max()):.3g}, not audio"
            elif value.dtype.kind not in "iu":
                problem = f"values of type {value.dtype}, not tokens"
            else:
                bad = first_bad_token(value.reshape(len(codebooks), -1), codebooks)
                if bad is not None:
                    problem = f"token {bad.value} in its stream {bad.stream}, outside [0, {codebooks[bad.stream]})"
            if problem:
                raise ModelLoadError(
                    f"{self.folder / graph} gave {name} of {problem}: the export is damaged or"
                    " replaced; export it again"
                )
        return out

    def _check_length(self, frames: int) -> None:
        if frames > self.max_frames:
            raise AudioInputError(
                f"{frames / self.frame_rate:.1f} s is longer than the exported graphs take in one run"
                f" ({self.max_frames / self.frame_rate:.0f} s); export again with a larger --max_seconds"
                " or use the torch backend"
            )

    def _run_encoder(self, audio: np.ndarray) -> Tuple[np.ndarray, bytes]:
        """Samples (T,) -> (codes (S, frames), side information: one byte per code, b'' when
        the codec has none)."""
        frames = self.frames_for(audio.shape[0])
        self._check_length(frames)
        x = np.zeros((1, 1, frames * self.hop_length), dtype=np.float32)
        x[0, 0, : audio.shape[0]] = audio
        feed = {"audio": x}
        if "reference" in self._graph_io("encoder.onnx")[0]:  # side information of the first seconds
            feed["reference"] = x[..., : max(1, min(audio.shape[0], self.reference_samples))]
        out = self._run("encoder.onnx", feed, frames)
        side = bytes(out["side"][0].astype(np.uint8).tolist()) if "side" in out else b""
        return out["codes"][:, 0].astype(np.int64), side

    def check_codes(self, codes: np.ndarray) -> np.ndarray:
        codes = self.layout.check_codes(codes)
        if codes.shape[0] != self.transmitted_streams and not self.meta.get("decoder_all"):
            raise TokenError(
                f"this export decodes the student's {self.transmitted_streams} plain stream only (it predicts the"
                f" others); {codes.shape[0]} streams were given: export again (decoder_all.onnx) or use the torch backend"
            )
        return codes

    def _run_decoder(self, codes: np.ndarray, side=None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Codes (S, frames) -> (audio (frames * hop,), pseudo tokens (N, frames) or None)."""
        self._check_length(codes.shape[-1])
        feed = {"codes": codes[:, None, :]}
        graph = "decoder.onnx" if codes.shape[0] == self.transmitted_streams else self.meta["decoder_all"]
        side = self.layout.check_side_info(side)
        if "side" in self._graph_io(graph)[0]:  # the graph takes the file's side information
            feed["side"] = side.reshape(1, -1)
        out = self._run(graph, feed, codes.shape[-1])
        pseudo = out["pseudo"][:, 0].astype(np.int64) if "pseudo" in out else None
        return out["audio"][0, 0], pseudo

    # ------------------------------------------------------ whole inputs
    def encode(self, audio, streams: str = "transmitted") -> np.ndarray:
        """Samples (T,) at ``fs`` -> tokens (streams, ceil(T / hop)), as the torch codec's
        ``encode`` (``streams="all"``: with a student's pseudo streams, as ``tokens``)."""
        audio = self._check_audio(audio)
        codes, _ = self.encode_file(lambda s, e: audio[s:e], len(audio), streams)
        return codes

    def decode(self, codes, num_samples: Optional[int] = None, side_info=None) -> np.ndarray:
        """Tokens (streams, frames) -> samples (num_samples,) (default frames * hop). A
        student takes its plain stream (the pseudo streams are predicted) or all 1 + N
        (tokens a language model generated; nothing is predicted), as the torch codec."""
        codes = self.check_codes(codes)
        num_samples = codes.shape[-1] * self.hop_length if num_samples is None else num_samples
        out = []
        self.decode_file(codes, num_samples, out.append, side_info=side_info)
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def side_info(self, audio) -> bytes:
        """SecoustiCodec's side information of an input (its first seconds), else b''."""
        if not self.side_info_bytes:
            return b""
        audio = self._check_audio(audio)
        return self._run_encoder(audio[: max(1, self.reference_samples)])[1]

    def _plan(self, num_frames: int, chunk_seconds, context_seconds):
        """The plan of :func:`~espnet2_p2p.coding.chunks.coding_plan` (the same tokens as the
        torch backend); a causal model: one run of its offline graphs (the run refuses it
        when longer than the graphs take). A chunk longer than the graphs take is refused
        before any is run."""
        plan = coding_plan(self.layout, num_frames, chunk_seconds, context_seconds, streams_exactly=False)
        if self.streaming:  # one run: _check_length names its limit
            return plan
        longest = max(cend - cstart for _, _, cstart, cend in plan.chunks)
        if longest > self.max_frames:
            raise AudioInputError(
                f"a chunk of {longest / self.frame_rate:.1f} s (chunk + 2 x context) is longer than the"
                f" exported graphs take ({self.max_frames / self.frame_rate:.0f} s): use a smaller --chunk_seconds"
                " or export again with a larger --max_seconds"
            )
        return plan

    def _check_codes(self, codes):
        return self.check_codes(codes)

    def _encode_planned(self, read, num_samples, streams, plan, progress):
        hop, side = self.hop_length, b""

        def code(cstart: int, cend: int) -> np.ndarray:
            nonlocal side
            codes, side = self._run_encoder(read(cstart * hop, min(num_samples, cend * hop)))
            if streams == "all" and self.predicts_streams:
                codes = np.concatenate([codes, self._run_decoder(codes)[1]])
            return codes

        return stitch_tokens(plan.chunks, self.frames_for(num_samples), code, progress), side

    def _decode_planned(self, codes, num_samples, write, plan, progress, side_info):
        def decode_chunk(cstart: int, cend: int) -> np.ndarray:
            return self._run_decoder(codes[:, cstart:cend], side_info)[0]

        stitch_audio(plan.chunks, self.hop_length, num_samples, decode_chunk, write, progress)
