"""Which layers int8 can take: quantisation variants of one float32 export, on real speech.

    python -m benchmarks.int8_variants [--model ZIP] [--data_dir DIR] [--every 5]
        [--output benchmarks/RESULTS_int8_variants.md]

Exports the model once (float32), then quantises copies of its graphs with ONNX Runtime's
dynamic quantisation (:func:`espnet2_p2p.onnx.export.quantize_int8`) in each way of
:data:`VARIANTS`, and codes the sets of :mod:`benchmarks.onnx_int8` through each: tokens
equal to float32's, ViSQOL and STOI, and the paired difference to float32 (mean ± 95% CI
over the clips). The variant ``p2p-codec export --int8`` uses is marked. It is how the
export's choice was made (issue 44, item 5); ``benchmarks.onnx_int8`` measures the export
itself.
"""

import os
import shutil
import tempfile
from pathlib import Path

INTEGER_OPS = ("MatMulInteger", "DynamicQuantizeMatMul")


def _all(graph) -> list:
    return [n.name for n in graph.graph.node if n.op_type in ("MatMul", "Gemm")]


def _predictors(graph) -> list:
    from espnet2_p2p.onnx.export import _modules, int8_nodes

    return [
        n.name
        for n in graph.graph.node
        if n.name in set(int8_nodes(graph)) and any(".predictors." in path for path, _ in _modules(n))
    ]


def _linear(graph) -> list:
    from espnet2_p2p.onnx.export import int8_nodes

    return int8_nodes(graph)


#: (label, nodes chosen from a float32 graph, per-channel weights)
VARIANTS = [
    ("every MatMul / Gemm, per tensor (export --int8 before issue 44)", _all, False),
    ("every MatMul / Gemm, per channel", _all, True),
    ("Linear layers but the MDCT decoder's, per tensor", _linear, False),
    ("Linear layers but the MDCT decoder's, per channel (export --int8)", _linear, True),
    ("the pseudo-VQ predictors' Linear layers alone, per channel", _predictors, True),
]


def main(argv=None) -> int:
    from benchmarks.onnx_int8 import HEADER, code_all, paired_rows, parse_options, speech_sets

    args, named, clips = parse_options(argv, __doc__, "int8_variants")
    import onnx

    from benchmarks.provenance import model_line
    from benchmarks.tables import markdown_table
    from espnet2_p2p.onnx import OnnxCodec
    from espnet2_p2p.onnx.export import export, quantize_int8

    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "float32"
        export(args.model, base)
        folders = {"float32": base}
        for label, choose, per_channel in VARIANTS:
            folder = Path(tmp) / f"v{len(folders)}"
            shutil.copytree(base, folder)
            done = {}
            for graph in sorted(folder.glob("*.onnx")):
                nodes = choose(onnx.load(str(graph), load_external_data=False))
                if nodes:
                    quantize_int8(graph, nodes, per_channel)
                # what the quantiser replaced (it leaves a product of two activations alone)
                done[graph.name] = sum(n.op_type in INTEGER_OPS for n in onnx.load(str(graph)).graph.node)
            counts.append((label, ", ".join(f"{g}: {n}" for g, n in done.items())))
            folders[label] = folder
        sizes = {label: sum(p.stat().st_size for p in f.glob("*.onnx")) / 1e6 for label, f in folders.items()}
        codecs = {label: OnnxCodec(f, threads=1) for label, f in folders.items()}
        fs = codecs["float32"].layout.fs
        sets = speech_sets(fs, clips, args.data_dir, args.every)
        results = {s: {label: code_all(c, wavs) for label, c in codecs.items()} for s, wavs in sets.items()}
    text = (
        model_line(args.model, " (its student)") + "\n\n"
        "# int8 variants against float32 on ONNX Runtime\n\n"
        f"Produced by `python -m benchmarks.int8_variants{' --model ' + str(named) if named else ''}`, one thread;"
        " ONNX Runtime's dynamic quantisation (int8 weights, activations quantised per call) of the nodes each"
        " variant names, in a copy of one float32 export. Load average when it ran:"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the speed column is only comparable on an idle"
        " machine). Paired: the variant minus float32 on each clip, mean ± 95% CI.\n\n"
        + markdown_table(HEADER, paired_rows(sets, results, fs, sizes))
        + "\n"
        + markdown_table(["variant", "int8 products per graph"], counts)
    )
    args.output.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
