#!/usr/bin/env python3
"""p2p-codec: code speech to .p2p files (P2PSynCodec at 0.5 kbps, SecoustiCodec) and back.

    p2p-codec encode IN.wav OUT.p2p --model exp/p2psyn_packed.zip
    p2p-codec decode IN.p2p OUT.wav --model exp/p2psyn_packed.zip
    p2p-codec tokens IN.wav OUT.npy --model exp/p2psyn_packed.zip --streams all
    p2p-codec info IN.p2p [--model M]
    p2p-codec export --model exp/p2psyn_packed.zip --out exp/onnx
    p2p-codec encode IN.wav OUT.p2p --backend onnxruntime --model exp/onnx

IN may also be a directory (every .wav/.flac/.ogg below it; for decode every .p2p) or a
Kaldi wav.scp (``utt path`` lines); OUT is then a directory, mirrored below it. --model
takes a packed zip (``espnet2_p2p.bin.pack``), an experiment dir or a .pth file with
config.yaml beside it; the environment variable P2P_CODEC_MODEL sets a default.
Audio of any rate and channel count is resampled and downmixed, with a notice. Long
files are coded in chunks with bounded memory (--chunk_seconds, --context_seconds).
A bad file is reported with one line and skipped; the others are still coded, and the
exit status is 1 if any failed. Outputs are written atomically: no partial files.

Token files (.npy) hold int64 tokens of shape (frames, streams): stream 0 is the plain
(transmitted) stream; with ``--streams all`` streams 1..N are the pseudo streams.

A SecoustiCodec model (``codec: secousti``) and a causal P2PSynCodec (``causal: true``)
code through their exact streaming path (chunks of --chunk_seconds equal whole-input
coding; --context_seconds is not used). SecoustiCodec puts its paralinguistic vector of
the first seconds into the file as side information (one byte per dimension); its token
files have one stream.

``encode`` writes the compact container (format version 4: an 11-byte container for
inputs of 0.26 to 32 s, which names its model by a 4-byte id, so ``decode`` and ``info``
read it with that model). When the model has an entropy-coding prior (``prior.npz`` in a
packed zip, see ``espnet2_p2p.bin.fit_prior``) the tokens are range-coded, usually well
below the nominal bitrate; ``--no-entropy`` writes them at fixed width. ``decode`` reads
every version (1 to 3 as well); ``info`` shows the nominal, the coded and the whole-file
bit/s, and for several files (or a directory; ``-q``: the total only) their total.

``export`` writes the model as ONNX graphs (``encoder.onnx``, ``decoder.onnx``, a
student's ``decoder_all.onnx``, ``codec.json``; see ``espnet2_p2p.onnx.export``). ``--backend onnxruntime --model DIR``
codes with them through ONNX Runtime, no torch needed; the ``.p2p`` files are the same
as the torch backend's (a causal P2PSynCodec and SecoustiCodec are coded whole, up to the
export's --max_seconds).
"""

import argparse
import contextlib
import io
import os
import sys
import warnings
from pathlib import Path
from typing import List, Tuple

from espnet2_p2p.errors import P2PError
from espnet2_p2p.coding.chunks import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS

AUDIO_EXTS = (".wav", ".flac", ".ogg")


def shipped_name() -> str:
    """' NAME' of the default shipped model, or '' when this install ships none."""
    from espnet2_p2p import pretrained

    return f" {pretrained.DEFAULT}" if pretrained.DEFAULT else ""


def seconds(positive: bool):
    """An argparse type: a finite number of seconds, > 0 (or >= 0 when not ``positive``)."""

    def parse(text: str) -> float:
        import math

        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(
                f"must be a finite number of seconds {'> 0' if positive else '>= 0'}, got {text}"
            )
        return value

    return parse


def threads(text: str) -> int:
    """An argparse type: a number of threads, >= 0."""
    from espnet2_p2p.onnx.runtime import check_threads

    try:
        int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    try:
        return check_threads(text)
    except P2PError as e:
        raise argparse.ArgumentTypeError(str(e).replace("threads must be", "must be")) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p2p-codec", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p):
        p.add_argument("--model", default=os.environ.get("P2P_CODEC_MODEL"),
                       help="a shipped model's name, packed zip, experiment dir or .pth (default: $P2P_CODEC_MODEL, else"
                       f" the shipped model{shipped_name()})")
        p.add_argument("--model_name", default=None,
                       help="which model of a packed zip (default: student, or its only model)")
        p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (torch backend)")
        p.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                       help="onnxruntime: --model is a folder written by `p2p-codec export`")
        p.add_argument("--threads", type=threads, default=0,
                       help="CPU threads (0: the backend's default)")
        p.add_argument("--chunk_seconds", type=seconds(positive=True), default=DEFAULT_CHUNK_SECONDS)
        p.add_argument("--context_seconds", type=seconds(positive=False), default=DEFAULT_CONTEXT_SECONDS)
        p.add_argument("-q", "--quiet", action="store_true", help="no notices, no progress bars")

    p = sub.add_parser("encode", help="audio -> .p2p")
    p.add_argument("input", type=Path, help="audio file, directory or wav.scp")
    p.add_argument("output", type=Path, help=".p2p file or directory")
    p.add_argument("--no-entropy", dest="no_entropy", action="store_true",
                   help="fixed-width tokens even when the model has a prior")
    model_options(p)
    p = sub.add_parser("decode", help=".p2p -> audio")
    p.add_argument("input", type=Path, help=".p2p file or directory")
    p.add_argument("output", type=Path, help="audio file (.wav/.flac) or directory")
    p.add_argument("--subtype", default="PCM_16", help="libsndfile subtype: PCM_16, PCM_24, FLOAT")
    model_options(p)
    p = sub.add_parser("tokens", help="audio -> tokens (.npy, frames x streams)")
    p.add_argument("input", type=Path, help="audio file, directory or wav.scp")
    p.add_argument("output", type=Path, help=".npy file or directory")
    p.add_argument("--streams", choices=["transmitted", "all", "plain"], default="transmitted",
                   help="transmitted: what a .p2p file carries (a student: the plain stream); all:"
                   " plain + the N pseudo streams; plain: stream 0 alone (the former default)")
    model_options(p)
    p = sub.add_parser("info", help="show .p2p files' headers; for several, their total bit/s")
    p.add_argument("input", type=Path, nargs="+", help=".p2p files or directories")
    model_options(p)  # a version-4 file is read with its model (it names it, not its layout)
    p = sub.add_parser("export", help="model -> ONNX graphs (encoder.onnx, decoder.onnx, codec.json)")
    p.add_argument("--model", default=os.environ.get("P2P_CODEC_MODEL"),
                   help="a shipped model's name, packed zip, experiment dir or .pth (default: $P2P_CODEC_MODEL, else the shipped model)")
    p.add_argument("--model_name", default=None, help="which model of a packed zip (default: student)")
    p.add_argument("--out", type=Path, required=True, help="folder to write")
    p.add_argument("--int8", action="store_true",
                   help="quantise the graphs' matrix products to int8 (ONNX Runtime's dynamic quantisation):"
                   " faster, smaller; tokens may differ from float32's (docs/onnx.md)")
    p.add_argument("--max_seconds", type=seconds(positive=True), default=60.0,
                   help="the longest input one run of the graphs takes (longer ones are chunked, or refused"
                   " for a causal model and SecoustiCodec)")
    p.add_argument("-q", "--quiet", action="store_true", help="nothing printed but errors")
    return parser


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


class Runner:
    """The command line's options applied: the coder (loaded when first needed) and the
    one-file jobs of :class:`~espnet2_p2p.coding.files.FileCoder`."""

    def __init__(self, args):
        from espnet2_p2p.coding.coder import say_to_stderr

        self.args = args
        self.say = say_to_stderr(args.quiet)
        self._files = None
        self._spec = None

    @property
    def files(self):
        if self._files is None:
            from espnet2_p2p.coding.coder import open_coder
            from espnet2_p2p.coding.files import FileCoder

            args = self.args
            # what libraries print while the model loads (ESPnet's notice that flash attention
            # is absent, torch's deprecation warnings) goes to stderr, or nowhere with -q
            with contextlib.redirect_stdout(io.StringIO() if args.quiet else sys.stderr), warnings.catch_warnings():
                if args.quiet:
                    warnings.simplefilter("ignore")
                coder = open_coder(args.model, getattr(args, "backend", "torch"), args.model_name,
                                   getattr(args, "device", "cpu"), getattr(args, "threads", 0), self.say)  # fmt: skip
            self._files = FileCoder(coder, args.chunk_seconds, args.context_seconds, self.say, not args.quiet)
        return self._files

    @property
    def codec(self):
        """The coder (either backend)."""
        return self.files.coder

    @property
    def spec(self):
        """What a version-4 file leaves to its model (:class:`~espnet2_p2p.container.bitstream.ModelSpec`),
        found once a run: from a packed zip's ``meta.json`` without loading it, else from
        the loaded coder."""
        if self._spec is None:
            from espnet2_p2p.container import bitstream
            from espnet2_p2p.coding.files import packed_spec

            self._spec = packed_spec(self.args.model, self.args.model_name)
            if self._spec is None:
                coder = self.codec
                self._spec = bitstream.ModelSpec.of(coder.layout, coder.fingerprint,
                                                    coder.prior.fingerprint() if coder.prior is not None else b"")  # fmt: skip
        return self._spec

    def encode(self, path: Path, out: Path) -> None:
        self.files.encode(path, out, entropy=not self.args.no_entropy)

    def tokens(self, path: Path, out: Path) -> None:
        self.files.tokens(path, out, self.args.streams)

    def decode(self, path: Path, out: Path) -> None:
        self.files.decode(path, out, self.args.subtype)


def check_subtype(subtype: str, outputs: List[Path]) -> None:
    """Refuse a libsndfile subtype that is unknown or that an output's format cannot hold."""
    import soundfile as sf

    for out in outputs:
        if out.suffix.lower() not in (".wav", ".flac"):
            raise P2PError(f"{out}: decode writes .wav or .flac files, not {out.suffix or 'a name without an extension'}")
    if subtype not in sf.available_subtypes():
        raise P2PError(f"--subtype {subtype}: unknown; e.g. PCM_16, PCM_24, FLOAT")
    for fmt in sorted({"FLAC" if out.suffix.lower() == ".flac" else "WAV" for out in outputs}):
        if not sf.check_format(fmt, subtype):
            raise P2PError(f"--subtype {subtype} cannot be written as {fmt}; {fmt} takes"
                           f" {', '.join(sorted(sf.available_subtypes(fmt)))}")  # fmt: skip


def info(path: Path, runner: "Runner" = None):
    """(what a .p2p file holds, its header); a version-4 file is read with ``runner``'s model."""
    from espnet2_p2p import pretrained
    from espnet2_p2p.container import bitstream

    header = bitstream.read_header(path, runner.spec if bitstream.is_compact(path) else None)
    size = path.stat().st_size
    lines = [
        f"file: {path} ({size} bytes, format {header.version})",
        f"sample rate: {header.sample_rate} Hz",
        f"samples: {header.num_samples} ({header.duration:.3f} s)",
        f"frames: {header.num_frames} ({header.frame_rate:g} Hz, hop {header.hop_length})",
        f"streams: {header.num_streams} transmitted of {1 + header.num_pseudo}"
        f" (codebooks {list(header.stream_sizes)}; N = {header.num_pseudo} pseudo VQs)",
        f"model fingerprint: {header.fingerprint.hex()}"
        + (f" (the shipped model {shipped})" if (shipped := pretrained.which(header.fingerprint)) else ""),
        f"nominal: {header.payload_bits} bits = {header.payload_bitrate:g} bit/s of whole frames,"
        f" {header.payload_bits / header.duration:.1f} bit/s of the audio's duration",
    ]
    if header.entropy_coded:
        saving = 1 - 8 * header.coded_bytes / header.payload_bits
        lines.append(f"coded (prior {header.prior_fingerprint.hex()}): {8 * header.coded_bytes} bits ="
                     f" {header.coded_bitrate:.1f} bit/s of the audio's duration, {100 * saving:.1f}% below nominal")  # fmt: skip
    padding = 0 if header.entropy_coded else 8 * header.payload_bytes - header.payload_bits
    lines.append(f"container overhead: {header.overhead_bytes} bytes" + (f" + {padding} padding bits" if padding else ""))
    lines.append(f"whole file: {8 * size / header.duration:.1f} bit/s of the audio's duration")
    if header.side_info:
        lines.append(f"side information: {len(header.side_info)} bytes, sent once (e.g. a paralinguistic vector)")
    return "\n".join(lines), header


def info_main(args) -> int:
    """``info``: each file's header (not with -q), then, for more than one file, the total
    payload and whole-file bit/s of the audio's duration."""
    status, runner = 0, Runner(args)
    seconds = payload = whole = files = 0
    for given in args.input:
        try:
            paths = [p for _, p in list_inputs(given, (".p2p",))] if given.is_dir() else [given]
        except P2PError as e:
            print(f"p2p-codec: error: {e}", file=sys.stderr)
            status = 1
            continue
        for path in paths:
            try:
                text, header = info(path, runner)
            except P2PError as e:
                print(f"p2p-codec: error: {e}", file=sys.stderr)
                status = 1
                continue
            if not args.quiet:
                print(text)
            files, seconds = files + 1, seconds + header.duration
            payload += 8 * header.stored_payload_bytes
            whole += 8 * path.stat().st_size
    if files > 1 or args.quiet:
        print(f"{files} files, {seconds:.1f} s of audio: payload {payload / max(seconds, 1e-9):.1f} bit/s,"
              f" whole files {whole / max(seconds, 1e-9):.1f} bit/s"
              f" (+{100 * (whole / max(payload, 1) - 1):.1f}% container and side information)")  # fmt: skip
    return status


def export(args) -> int:
    try:
        from espnet2_p2p.onnx.export import export as export_model

        from espnet2_p2p import pretrained

        args.model = pretrained.chosen_model(args.model)
        meta = export_model(args.model, args.out, args.model_name, args.max_seconds, args.int8)
    except P2PError as e:
        print(f"p2p-codec: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # an output folder that is a file, a read-only folder, a full disk
        print(f"p2p-codec: error: {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    except Exception as e:  # the exporter's own errors: one line, the details in the log
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"p2p-codec: error: exporting {args.model} failed: {first[:300]}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"wrote {args.out}/encoder.onnx, decoder.onnx{', decoder_all.onnx' if meta.get('decoder_all') else ''},"
              f" codec.json ({meta['codec']}, fingerprint {meta['fingerprint']}{', prior.npz' if meta['prior'] else ''})")  # fmt: skip
    return 0


class Stopped(BaseException):
    """SIGTERM (or SIGHUP) while coding: raised where the program is, so that every
    ``finally`` removes its temporary file, as on Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame):
    raise Stopped(signum)


def main(argv=None) -> int:
    """The command line; Ctrl-C exits with 130 and SIGTERM with 143, each with one line and
    no partial or temporary output; a closed stdout (``p2p-codec info ... | head``) ends it
    quietly with 141."""
    import signal
    import threading

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            handlers[sig] = signal.signal(sig, _stop)
    try:
        status = _main(argv)
        sys.stdout.flush()  # a reader gone away (`| head`) is found here, not at exit
        return status
    except BrokenPipeError:
        # the reader of stdout went away: end quietly, as a program killed by SIGPIPE does
        # (its status), and leave nothing for the interpreter to fail to flush at exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # a stdout without a descriptor (captured)
            pass
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        print("p2p-codec: interrupted (Ctrl-C); no partial output was left", file=sys.stderr)
        return 130
    except Stopped as e:
        print(f"p2p-codec: stopped by signal {e.signum}; no partial output was left", file=sys.stderr)
        return 128 + e.signum
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def run_jobs(args, work, inputs, outputs) -> int:
    """``work(path, out)`` for every input; a bad input or an output that cannot be written
    is one line and the others go on. Returns how many failed."""
    from tqdm import tqdm

    failed = 0
    for (name, path), out in tqdm(
        list(zip(inputs, outputs)), desc=args.command, unit="file",
        disable=args.quiet or len(inputs) == 1,
    ):  # fmt: skip
        try:
            work(path, out)
        except P2PError as e:
            failed += 1
            tqdm.write(f"p2p-codec: error: {e}", file=sys.stderr)
        except OSError as e:  # an output that is a folder, a read-only folder, a full disk
            failed += 1
            where = out if out.is_dir() else (e.filename or out)
            tqdm.write(f"p2p-codec: error: {path} -> {out}: {where}: {e.strerror or e}", file=sys.stderr)
    return failed


def _main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "export":
        return export(args)
    if args.command == "info":
        return info_main(args)
    exts = (".p2p",) if args.command == "decode" else AUDIO_EXTS
    out_ext = {"encode": ".p2p", "decode": ".wav", "tokens": ".npy"}[args.command]
    try:
        inputs = list_inputs(args.input, exts)
        outputs = plan_outputs(inputs, args.output, out_ext)
        if args.command == "decode":
            check_subtype(args.subtype, outputs)
        runner = Runner(args)
        work = getattr(runner, args.command)
        runner.codec  # load the model before the loop: its errors are not per file
    except P2PError as e:
        print(f"p2p-codec: error: {e}", file=sys.stderr)
        return 1
    with warnings.catch_warnings():
        if args.quiet:  # -q: errors only (numpy's warnings about a broken graph's output too)
            warnings.simplefilter("ignore")
        failed = run_jobs(args, work, inputs, outputs)
    if failed and len(inputs) > 1:  # (one input: its error line says it all)
        print(f"p2p-codec: {failed} of {len(inputs)} inputs failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
