"""What one core of this CPU can do with ONNX Runtime's own kernels, and how far the codec's
graphs are from it (issue 31, item 1).

    python -m benchmarks.cpu_limit [--model ZIP] [--paper] [--seconds 10] [--output benchmarks/RESULTS_cpu_limit.md]

1. **The limit**: one-thread ONNX Runtime sessions of single-operator graphs, timed after a
   warm-up: a float32 ``MatMul`` (1024 x 1024 x 1024), its int8 form (``MatMulInteger``,
   uint8 x int8), and ``Conv`` layers of the shipped codec's shapes (a pointwise 96 -> 256
   and a depthwise kernel-7 convolution over the frames of ``--seconds`` of audio at the
   MDCT rate). FLOPs by hand: ``2 M K N`` for a product, ``2 C_out C_in/g k T`` for a
   convolution.
2. **The graphs**: the model's exported encoder and decoder (``p2p-codec export``) on
   ``--seconds`` of audio, one thread: their FLOPs per second of audio (counted on the torch
   model by ``torch.utils.flop_counter``, as ``benchmarks.codec_speed`` does), their time,
   and the achieved GFLOP/s as a share of the float32 ``MatMul`` peak. ``--paper`` adds
   the paper-scale student (``conf/student.yaml``, random weights, as
   ``benchmarks.codec_speed`` builds it).

Run it on an otherwise idle machine; the table records the load average when it ran.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _session(graph):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _best_seconds(run, repeats: int = 5) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def op_graph(op: str, inputs, output_shape, attrs=None, initializers=()):
    """A graph of one operator: ``inputs`` [(name, onnx elem type, shape)]."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node(op, [n for n, _, _ in inputs] + [i.name for i in initializers], ["y"], **(attrs or {}))]
    out_type = TensorProto.INT32 if op == "MatMulInteger" else TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        op,
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info("y", out_type, output_shape)],
        list(initializers),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def peaks(frames: int) -> list:
    """[(what, GFLOP or GOP per run, seconds per run)] of the single-operator graphs."""
    from onnx import TensorProto, numpy_helper

    rng = np.random.default_rng(0)
    n = 1024
    out = []
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    s = _session(op_graph("MatMul", [("a", TensorProto.FLOAT, [n, n]), ("b", TensorProto.FLOAT, [n, n])], [n, n]))
    out.append(("float32 MatMul 1024^3", 2 * n**3 / 1e9, _best_seconds(lambda: s.run(None, {"a": a, "b": b}))))
    qa, qb = rng.integers(0, 255, (n, n), dtype=np.uint8), rng.integers(-127, 127, (n, n), dtype=np.int8)
    s8 = _session(
        op_graph("MatMulInteger", [("a", TensorProto.UINT8, [n, n]), ("b", TensorProto.INT8, [n, n])], [n, n])
    )
    out.append(("int8 MatMulInteger 1024^3", 2 * n**3 / 1e9, _best_seconds(lambda: s8.run(None, {"a": qa, "b": qb}))))
    for label, c_in, c_out, k, group in (
        ("Conv pointwise 96 -> 256", 96, 256, 1, 1),
        ("Conv depthwise 96, k=7", 96, 96, 7, 96),
    ):
        x = rng.standard_normal((1, c_in, frames), dtype=np.float32)
        w = numpy_helper.from_array(rng.standard_normal((c_out, c_in // group, k), dtype=np.float32), "w")
        graph = op_graph(
            "Conv",
            [("x", TensorProto.FLOAT, [1, c_in, frames])],
            [1, c_out, frames],
            dict(group=group, pads=[k // 2, k // 2]),
            [w],
        )
        sc = _session(graph)
        flops = 2 * c_out * (c_in // group) * k * frames / 1e9
        out.append((f"{label} over {frames} frames", flops, _best_seconds(lambda: sc.run(None, {"x": x}))))
    return out


def graph_times(model, samples: int) -> list:
    """[(graph, GFLOP a run, seconds a run)] of a model's exported encoder and decoder on
    ``samples`` of noise (FLOPs counted on its PyTorch twin)."""
    import torch

    from benchmarks.codec_speed import gflops
    from espnet2_p2p.onnx import OnnxCodec
    from espnet2_p2p.onnx.export import export_codec

    codec = model.codec
    x = torch.from_numpy(0.1 * np.random.default_rng(1).standard_normal(samples).astype(np.float32)).view(1, 1, -1)
    with torch.no_grad():
        codes = codec.encode(x)
        enc_flops, dec_flops = gflops(lambda: codec.encode(x)), gflops(lambda: codec.decode(codes, length=samples))
    with tempfile.TemporaryDirectory() as tmp:
        export_codec(model, Path(tmp), max_seconds=samples / codec.fs + 1)
        onnx = OnnxCodec(Path(tmp), threads=1)
        wav = x.view(-1).numpy()
        plain = onnx.encode(wav)
        return [
            ("encoder.onnx", enc_flops, _best_seconds(lambda: onnx.encode(wav), 3)),
            (
                "decoder.onnx (with the pseudo-VQ prediction)",
                dec_flops,
                _best_seconds(lambda: onnx.decode(plain, samples), 3),
            ),
        ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="packed zip (default: the shipped model)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--paper", action="store_true", help="also the paper-scale student's graphs")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_cpu_limit.md")
    args = parser.parse_args(argv)
    import torch

    from benchmarks.tables import markdown_table, publish
    from espnet2_p2p.model_io import load_codec

    torch.set_num_threads(1)
    if args.model is None:
        from espnet2_p2p import pretrained

        args.model = pretrained.default_model()
    shipped = load_codec(args.model)
    samples = int(args.seconds * shipped.codec.fs)
    frames = samples // 40  # MDCT hop of the shipped configs (mdct_hop_length: 40)
    rows = peaks(frames)
    peak = rows[0][1] / rows[0][2]
    kernels = [(what, f"{g:.3f}", f"{1e3 * t:.2f}", f"{g / t:.1f}") for what, g, t in rows]
    models = [(Path(str(args.model)).name, shipped)]
    if args.paper:
        from benchmarks.codec_speed import _model

        models.append(("paper scale (conf/student.yaml, random weights)", _model("paper", "cpu")))
    graph_rows = []
    for name, model in models:
        for what, g, t in graph_times(model, samples):
            graph_rows.append(
                (
                    name,
                    what,
                    f"{g / args.seconds:.3f}",
                    f"{t / args.seconds:.4f}",
                    f"{g / t:.1f}",
                    f"{100 * g / t / peak:.1f}%",
                )
            )
    from benchmarks.provenance import model_line

    text = (
        model_line(
            args.model, " (its student); the paper-scale rows: random weights" if args.paper else " (its student)"
        )
        + "\n\n# One core's limit and the codec's share of it\n\n"
        f"Produced by `python -m benchmarks.cpu_limit{' --paper' if args.paper else ''}` ({args.seconds:g} s of audio, one"
        f" thread, best of 5 runs after a warm-up). Load average when it ran: {os.getloadavg()[0]:.1f} on"
        f" {os.cpu_count()} cores.\n\n"
        + markdown_table(["ONNX Runtime kernel", "GFLOP (GOP) a run", "ms a run", "GFLOP/s (GOP/s)"], kernels)
        + "\n"
        + markdown_table(
            "student | codec graph | GFLOPs per second of audio | RTF | achieved GFLOP/s | share of the float32 MatMul peak",
            graph_rows,
        )
    )
    return publish(args.output, text)


if __name__ == "__main__":
    raise SystemExit(main())
