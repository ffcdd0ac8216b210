"""Export a trained codec to ONNX: ``encoder.onnx``, ``decoder.onnx`` and ``codec.json``.

    p2p-codec export --model exp/p2psyn_packed.zip --out exp/onnx

The graphs come from PyTorch's dynamo exporter (``torch.onnx.export(dynamo=True)``) with
a dynamic batch and time axis. They compute what the torch codec's offline ``encode`` and
``decode`` compute:

- P2PSynCodec: ``encoder.onnx`` audio (B, 1, T) -> ``codes`` (S, B, ceil(T / hop)), the
  transmitted streams; the MDCT is its fixed-basis convolution. ``decoder.onnx`` codes ->
  ``audio`` (B, 1, frames * hop); a student's decoder predicts the pseudo VQs inside the
  graph and also outputs them (``pseudo``, (N, B, frames)). A student also gets
  ``decoder_all.onnx``: all 1 + N streams (tokens a language model generated) -> audio,
  nothing predicted.
- SecoustiCodec: ``encoder.onnx`` audio and its first ``reference_seconds`` ->
  ``codes`` (1, B, frames) and ``side`` (B, P), the paralinguistic codes a ``.p2p``
  file carries; ``decoder.onnx`` codes and side codes -> audio.

What the export changes, none of it in the weights: input checks that look at values
are left out of the graph (the runtime checks tokens before running it); the predictors'
LSTMs become one ONNX ``LSTM`` node per layer (:mod:`espnet2_p2p.onnx.lstm`); their
Conformer attention runs as a scan over query blocks (ONNX ``Scan``,
:mod:`espnet2_p2p.onnx.attention`) with every frame valid, and its position table is
sized for ``max_seconds`` (longer inputs are coded in chunks by the runtime).

``codec.json`` holds what the runtime needs: the rate, hop, stream sizes, the model's
``.p2p`` fingerprint (files are interchangeable with the torch backend's) and the
longest input a graph takes. The model's entropy-coding prior, when
it has one, is copied as ``prior.npz``.
"""

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Optional

import torch

from espnet2_p2p.codec.export_graphs import onnx_graphs
from espnet2_p2p.errors import ModelLoadError
from espnet2_p2p.onnx.attention import BlockedRelPositionAttention
from espnet2_p2p.onnx.lstm import TRANSLATIONS, exportable, run_layerwise
from espnet2_p2p.onnx.runtime import FORMAT, VERSION

OPSET = 18


class _Conformer(torch.nn.Module):
    """ESPnet's ConformerEncoder called with an all-valid mask (no value-dependent
    mask from lengths)."""

    def __init__(self, conformer):
        super().__init__()
        self.conformer = conformer

    def forward(self, h, lengths):
        masks = torch.zeros(h.shape[0], h.shape[1], dtype=torch.bool, device=h.device)
        return self.conformer(h, lengths, masks=masks)


@contextlib.contextmanager
def _exportable(codec, max_frames: int):
    """Within the block, ``codec`` (on the CPU, in eval mode) traces with a dynamic length;
    every change is undone after it (the same object keeps running in PyTorch)."""
    from espnet.nets.pytorch_backend.transformer.embedding import RelPositionalEncoding

    from espnet2_p2p.layers.causal import CausalLSTM
    from espnet2_p2p.quantizer.predictor import FusedRelPositionAttention, PseudoVQPredictor

    undo = []

    def swap_class(module, cls):
        undo.append(lambda m=module, c=module.__class__: setattr(m, "__class__", c))
        module.__class__ = cls

    def set_attr(module, name, value):
        had = name in module.__dict__ or name in getattr(module, "_modules", {})
        old = getattr(module, name)
        undo.append(lambda: setattr(module, name, old) if had else delattr(module, name))
        setattr(module, name, value)

    try:
        for module in list(codec.modules()):
            if type(module) is FusedRelPositionAttention:
                swap_class(module, BlockedRelPositionAttention)
            if isinstance(module, RelPositionalEncoding):
                pe = module.pe
                undo.append(lambda m=module, pe=pe: setattr(m, "pe", pe))
                module.pe = None
                module.extend_pe(torch.zeros(1, max_frames))
            if isinstance(module, PseudoVQPredictor) and module.conformer is not None:
                set_attr(module, "conformer", _Conformer(module.conformer))
            if isinstance(module, CausalLSTM):
                swap_class(module, _CausalLSTMExport)
            for check in ("check_codes", "check_plain_tokens"):  # value checks: the runtime does them
                if hasattr(module, check):
                    set_attr(module, check, lambda *args: None)
        replaced = []
        undo.append(lambda: [setattr(p, n, m) for p, n, m in reversed(replaced)])
        exportable(codec, replaced)
        yield codec
    finally:
        for step in reversed(undo):
            step()


class _CausalLSTMExport(torch.nn.LSTM):
    """CausalLSTM (B, C, T) from a zero state through the exportable LSTM layers."""

    def forward(self, x, state=None):
        if state is not None:
            raise ValueError("the exported causal LSTM runs from a zero state only")
        return run_layerwise(self, x.transpose(1, 2)).transpose(1, 2), None


def _export(module, args, dynamic_shapes, input_names, output_names, path: Path) -> None:
    # The exporter reports its steps on stdout, notes that torchvision's operators are
    # missing and warns of deprecations in ESPnet's layers: kept in the debug log, off the
    # console.
    quiet = io.StringIO()
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), contextlib.redirect_stdout(quiet), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                args,
                dynamic_shapes=dynamic_shapes,
                dynamo=True,
                opset_version=OPSET,
                custom_translation_table=TRANSLATIONS,
                input_names=input_names,
                output_names=output_names,
                verbose=False,
                optimize=True,
            )
    finally:
        onnx_log.setLevel(level)
        logging.debug("%s", quiet.getvalue())
    program.save(str(path))
    _check_dynamic(path, dynamic_shapes, input_names)


def _check_dynamic(path: Path, dynamic_shapes, input_names) -> None:
    """Refuse a graph whose dynamic axes were fixed to the example's size (the exporter
    falls back to a specialised graph when tracing with symbolic sizes fails)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inputs = {i.name: i for i in graph.input}
    for name, axes in zip(input_names, dynamic_shapes):
        dims = inputs[name].type.tensor_type.shape.dim
        fixed = [axis for axis in axes if not dims[axis].dim_param]
        if fixed:
            raise RuntimeError(f"{path.name}: the export fixed axes {fixed} of {name!r} to the example's size")


def export(model_path, out_dir, name: Optional[str] = None, max_seconds: float = 60.0, int8: bool = False) -> dict:
    """Export the codec at ``model_path`` (anything :func:`espnet2_p2p.model_io.load_codec`
    takes) and its prior into ``out_dir``; returns the ``codec.json`` it wrote."""
    from espnet2_p2p.model_io import load_codec, load_prior

    model = load_codec(model_path, name)
    return export_codec(
        model, out_dir, max_seconds, prior=load_prior(model_path, name), source=str(model_path), int8=int8
    )


#: what ``int8`` quantises: the products of ``torch.nn.Linear`` layers (int8 weights, one
#: scale per output channel; activations quantised per call by ONNX Runtime's dynamic
#: quantisation). Convolutions and the products of two activations (GRN's norms, the VQ's
#: distances and codeword look-ups) stay float32.
INT8_OPS = ["MatMul", "Gemm"]
#: modules (paths below the codec) whose layers stay float32 in an int8 export: the
#: network that writes the signal. P2PSynCodec's ``generator.decoder`` outputs the MDCT
#: coefficients themselves; its activations quantised per call (one scale for a whole
#: input, loud and silent frames alike) cost the shipped student 0.21 ViSQOL on the 20
#: real clips; the other Linear layers in int8 move its ViSQOL by -0.008 +- 0.015
#: (benchmarks/RESULTS_int8_variants.md, docs/onnx.md).
INT8_FLOAT32 = ("generator.decoder",)


def _modules(node) -> Optional[list]:
    """[(module path, class)] a node of the dynamo exporter was traced in, outermost first,
    from its ``namespace`` metadata (``": Root/codec.generator.decoder: Cls/.../op: aten..."``);
    None when the node carries none."""
    namespace = next((p.value for p in node.metadata_props if p.key == "namespace"), None)
    if namespace is None:
        return None
    return [tuple(part.strip() for part in seg.split(":", 1)) for seg in namespace.split("/")[1:-1]]


def int8_nodes(graph, float32=INT8_FLOAT32) -> list:
    """Names of the nodes :func:`quantize_int8` quantises in ``graph`` (an ``onnx.ModelProto``):
    the ``INT8_OPS`` of ``torch.nn.Linear`` layers outside the ``float32`` modules."""
    keep = tuple(f"codec.{m}" for m in float32)
    names, traced = [], False
    for node in graph.graph.node:
        modules = _modules(node)
        traced = traced or modules is not None
        if node.op_type not in INT8_OPS or not modules or modules[-1][1] != "torch.nn.modules.linear.Linear":
            continue
        if any(path == k or path.startswith(k + ".") for path, _ in modules for k in keep):
            continue
        names.append(node.name)
    if not traced:
        raise RuntimeError(
            "the graph carries no module names (the exporter's namespace metadata): cannot choose its int8 layers"
        )
    return names


def quantize_int8(path: Path, nodes: Optional[list] = None, per_channel: bool = True) -> int:
    """Replace a float32 graph by its dynamically quantised int8 version (in place): the
    ``nodes`` named (default: :func:`int8_nodes`), int8 weights with a scale per output
    channel (``per_channel``) or per tensor. Returns how many nodes it asked the quantiser
    for (0: the graph is left as it was)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if nodes is None:
        nodes = int8_nodes(onnx.load(str(path), load_external_data=False))
    if not nodes:  # an empty list would mean "every node" to the quantiser
        return 0
    tmp = path.with_name(f".{path.name}.int8")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process, once per graph
    try:
        quantize_dynamic(
            str(path),
            str(tmp),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=INT8_OPS,
            per_channel=per_channel,
            nodes_to_quantize=nodes,
        )
        tmp.replace(path)
    finally:
        root.setLevel(level)
        tmp.unlink(missing_ok=True)
    return len(nodes)


def export_codec(model, out_dir, max_seconds: float = 60.0, prior=None, source: str = "", int8: bool = False) -> dict:
    """Export a loaded codec (ESPnet's ``ESPnetGANCodecModel`` or its ``codec``) into
    ``out_dir``; the model is unchanged afterwards. ``int8``: the graphs' Linear layers
    dynamically quantised, but for ``INT8_FLOAT32`` (:func:`quantize_int8`; tokens may
    differ from float32's)."""
    from espnet2_p2p.codec.base import as_codec
    from espnet2_p2p.model_io import fingerprint

    codec = as_codec(model)
    if codec.training or next(codec.parameters()).device.type != "cpu":
        raise ValueError("export a codec on the CPU in eval mode (model.cpu().eval())")
    kind = type(codec).__name__
    max_frames = codec.frames_for(int(max_seconds * codec.fs))
    if max_frames < 4:
        raise ValueError(f"--max_seconds {max_seconds:g} is shorter than the 4 frames an export needs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # codec.json is written last: a folder whose export failed midway does not load
    (out_dir / "codec.json").unlink(missing_ok=True)
    (out_dir / "prior.npz").unlink(missing_ok=True)
    (out_dir / "decoder_all.onnx").unlink(missing_ok=True)
    hop = codec.hop_length
    batch = torch.export.Dim("batch", min=1, max=64)
    frames = torch.export.Dim("frames", min=2, max=max_frames)
    # an example of batch 2 (sizes of 1 would be fixed by the tracer), from a generator of
    # its own (the caller's random state is left alone)
    noise = torch.Generator().manual_seed(0)
    example = 0.05 * torch.randn(2, 1, min(50, max_frames - 1) * hop, generator=noise)
    logging.info("exporting %s (%s) to %s", source, kind, out_dir)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "codec": kind,
        "sample_rate": codec.fs,
        "hop_length": hop,
        "stream_sizes": list(codec.stream_sizes),
        "transmitted_streams": codec.transmitted_streams,
        "fingerprint": fingerprint(codec).hex(),
        "max_frames": max_frames,
        "causal": bool(codec.streaming),
        "side_info_bytes": codec.side_info_bytes,
        "side_info_levels": codec.side_info_levels,
        "opset": OPSET,
        "torch": torch.__version__,
        "source": source,
        "prior": None,
        "int8": None,
    }
    with _exportable(codec, max_frames) as ex:
        try:
            graphs, extra = onnx_graphs(ex, example, batch, frames)
        except ValueError as e:
            raise ModelLoadError(f"{source or kind}: {e}") from None
        for graph in graphs:
            _export(graph.module, graph.args, graph.shapes, graph.inputs, graph.outputs, out_dir / graph.file)
        meta.update(extra)
    if prior is not None:
        (out_dir / "prior.npz").write_bytes(prior.to_bytes())
        meta["prior"] = "prior.npz"
    (out_dir / "codec.json").write_text(json.dumps(meta, indent=1) + "\n")
    return quantize_export(out_dir) if int8 else meta


def quantize_export(folder) -> dict:
    """Quantise a float32 export in place (``p2p-codec export --int8`` is the float32 export,
    then this): every graph by :func:`quantize_int8`, the note in ``codec.json``, which is
    removed first and written last (a failure midway leaves a folder that does not load).
    Returns the new ``codec.json``."""
    folder = Path(folder)
    meta = json.loads((folder / "codec.json").read_text())
    if meta.get("int8"):
        raise ValueError(f"{folder} is an int8 export already")
    graphs = ["encoder.onnx", "decoder.onnx"] + ([meta["decoder_all"]] if meta.get("decoder_all") else [])
    (folder / "codec.json").unlink()
    for graph in graphs:
        quantize_int8(folder / graph)
    meta["int8"] = (
        f"dynamic: {', '.join(INT8_OPS)} of Linear layers, QInt8 weights per channel; float32:"
        f" {', '.join(INT8_FLOAT32)} (onnxruntime.quantization.quantize_dynamic)"
    )
    (folder / "codec.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
