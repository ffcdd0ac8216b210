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
from typing import Callable

from espnet2_p2p.coding.chunks import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS
from espnet2_p2p.coding.files import JOBS, list_inputs, plan_outputs
from espnet2_p2p.errors import P2PError


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
        p.add_argument(
            "--model",
            default=os.environ.get("P2P_CODEC_MODEL"),
            help="a shipped model's name, packed zip, experiment dir or .pth (default: $P2P_CODEC_MODEL, else"
            f" the shipped model{shipped_name()})",
        )
        p.add_argument(
            "--model_name", default=None, help="which model of a packed zip (default: student, or its only model)"
        )
        p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (torch backend)")
        p.add_argument(
            "--backend",
            choices=["torch", "onnxruntime"],
            default="torch",
            help="onnxruntime: --model is a folder written by `p2p-codec export`",
        )
        p.add_argument("--threads", type=threads, default=0, help="CPU threads (0: the backend's default)")
        p.add_argument("--chunk_seconds", type=seconds(positive=True), default=DEFAULT_CHUNK_SECONDS)
        p.add_argument("--context_seconds", type=seconds(positive=False), default=DEFAULT_CONTEXT_SECONDS)
        p.add_argument("-q", "--quiet", action="store_true", help="no notices, no progress bars")

    for command, job in JOBS.items():  # encode, decode, tokens: espnet2_p2p.coding.files.JOBS
        p = sub.add_parser(command, help=job.help)
        p.add_argument("input", type=Path, help=job.input_help)
        p.add_argument("output", type=Path, help=job.output_help)
        for flags, keywords in job.options:
            p.add_argument(*flags, **keywords)
        model_options(p)
    p = sub.add_parser("info", help="show .p2p files' headers; for several, their total bit/s")
    p.add_argument("input", type=Path, nargs="+", help=".p2p files or directories")
    model_options(p)  # a version-4 file is read with its model (it names it, not its layout)
    p = sub.add_parser("export", help="model -> ONNX graphs (encoder.onnx, decoder.onnx, codec.json)")
    p.add_argument(
        "--model",
        default=os.environ.get("P2P_CODEC_MODEL"),
        help="a shipped model's name, packed zip, experiment dir or .pth (default: $P2P_CODEC_MODEL, else the shipped model)",
    )
    p.add_argument("--model_name", default=None, help="which model of a packed zip (default: student)")
    p.add_argument("--out", type=Path, required=True, help="folder to write")
    p.add_argument(
        "--int8",
        action="store_true",
        help="quantise the graphs' Linear layers (their MatMul and Gemm) to int8, weights per output channel,"
        " the MDCT decoder kept float32 (ONNX Runtime's dynamic quantisation): smaller, tokens may differ from"
        " float32's; what it costs in quality: docs/onnx.md",
    )
    p.add_argument(
        "--max_seconds",
        type=seconds(positive=True),
        default=60.0,
        help="the longest input one run of the graphs takes (longer ones are chunked, or refused"
        " for a causal model and SecoustiCodec)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="nothing printed but errors")
    return parser


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
                coder = open_coder(
                    args.model,
                    getattr(args, "backend", "torch"),
                    args.model_name,
                    getattr(args, "device", "cpu"),
                    getattr(args, "threads", 0),
                    self.say,
                )
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
            from espnet2_p2p.coding.files import packed_spec
            from espnet2_p2p.container import bitstream

            self._spec = packed_spec(self.args.model, self.args.model_name)
            if self._spec is None:
                coder = self.codec
                self._spec = bitstream.ModelSpec.of(
                    coder.layout, coder.fingerprint, coder.prior.fingerprint() if coder.prior is not None else b""
                )
        return self._spec

    def work(self, job) -> Callable[[Path, Path], None]:
        """``job`` (of :data:`~espnet2_p2p.coding.files.JOBS`) for one input and its output."""
        return lambda path, out: job.run(self.files, path, out, self.args)


def info_main(args) -> int:
    """``info``: each file's header (not with -q), then, for more than one file, the total
    payload and whole-file bit/s of the audio's duration."""
    from espnet2_p2p.coding.files import describe
    from espnet2_p2p.layout import Rates

    status, runner, total, files = 0, Runner(args), Rates(), 0
    for given in args.input:
        try:
            paths = [p for _, p in list_inputs(given, (".p2p",))] if given.is_dir() else [given]
        except P2PError as e:
            print(f"p2p-codec: error: {e}", file=sys.stderr)
            status = 1
            continue
        for path in paths:
            try:
                text, header = describe(path, runner.spec)
            except P2PError as e:
                print(f"p2p-codec: error: {e}", file=sys.stderr)
                status = 1
                continue
            if not args.quiet:
                print(text)
            files, total = files + 1, total + header.rates()
    if files > 1 or args.quiet:
        print(
            f"{files} files, {total.seconds:.1f} s of audio: payload {total.coded_bps:.1f} bit/s,"
            f" whole files {total.file_bps:.1f} bit/s"
            f" (+{100 * (total.file_bits / max(total.coded_bits, 1) - 1):.1f}% container and side information)"
        )
    return status


def export(args) -> int:
    try:
        from espnet2_p2p import pretrained
        from espnet2_p2p.onnx.export import export as export_model

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
        print(
            f"wrote {args.out}/encoder.onnx, decoder.onnx{', decoder_all.onnx' if meta.get('decoder_all') else ''},"
            f" codec.json ({meta['codec']}, fingerprint {meta['fingerprint']}{', prior.npz' if meta['prior'] else ''})"
        )
        if meta.get("int8"):
            print(f"int8: {meta['int8']}; its cost in quality: docs/onnx.md")
    return 0


def main(argv=None) -> int:
    """The command line (:func:`espnet2_p2p.errors.run_command`: Ctrl-C exits with 130 and
    SIGTERM with 143, each with one line and no partial or temporary output; a closed stdout
    ends it quietly with 141)."""
    from espnet2_p2p.errors import run_command

    return run_command("p2p-codec", _main, argv)


def run_jobs(args, work, inputs, outputs) -> int:
    """``work(path, out)`` for every input; a bad input or an output that cannot be written
    is one line and the others go on. Returns how many failed."""
    from tqdm import tqdm

    failed = 0
    for (name, path), out in tqdm(
        list(zip(inputs, outputs)),
        desc=args.command,
        unit="file",
        disable=args.quiet or len(inputs) == 1,
    ):
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
    job = JOBS[args.command]
    try:
        inputs = list_inputs(args.input, job.inputs)
        outputs = plan_outputs(inputs, args.output, job.output)
        if job.check is not None:
            job.check(args, outputs)
        runner = Runner(args)
        work = runner.work(job)
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
