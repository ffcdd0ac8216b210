"""Which layers ``p2p-codec export --int8`` quantises (issue 44, item 5): the Linear
layers, per output channel, but not the decoder that writes the MDCT coefficients (its
int8 activations cost the shipped student 0.21 ViSQOL on the 20 real clips:
benchmarks/RESULTS_onnx_int8.md). The shipped student's int8 export against float32:
tests/test_onnx.py."""

import json

import onnx
import pytest
from onnx import TensorProto, helper

from espnet2_p2p.onnx.export import INT8_FLOAT32, _modules, export, int8_nodes


def quantised(graph) -> list:
    """The names of the nodes the quantiser replaced (it names their products ``<node>_quant``)."""
    return [n.name[: -len("_quant")] for n in graph.graph.node if n.op_type == "MatMulInteger"]


@pytest.fixture(scope="module")
def tiny_exports(tmp_path_factory, packed_models):
    out = tmp_path_factory.mktemp("int8")
    export(packed_models, out / "float32", "student", max_seconds=10.0)
    export(packed_models, out / "int8", "student", max_seconds=10.0, int8=True)
    return out


def test_int8_quantises_the_linear_layers_outside_the_mdct_decoder(tiny_exports):
    assert INT8_FLOAT32 == ("generator.decoder",)
    float_graphs = {g: onnx.load(str(tiny_exports / "float32" / f"{g}.onnx")) for g in ("encoder", "decoder")}
    for name, graph in float_graphs.items():
        chosen = set(int8_nodes(graph))
        for node in graph.graph.node:
            if node.op_type not in ("MatMul", "Gemm"):
                continue
            paths = [p for p, _ in _modules(node)]
            in_decoder = any(p.startswith("codec.generator.decoder") for p in paths)
            linear = bool(paths) and _modules(node)[-1][1] == "torch.nn.modules.linear.Linear"
            # the predictors' and the encoder's Linear layers; never the MDCT decoder's, the
            # VQ's distances and look-ups or GRN's norms (products of no Linear layer)
            assert (node.name in chosen) == (linear and not in_decoder), (name, node.name, paths)
        assert chosen, name
        assert sorted(quantised(onnx.load(str(tiny_exports / "int8" / f"{name}.onnx")))) == sorted(chosen)
    chosen = set(int8_nodes(float_graphs["decoder"]))
    assert any(
        ".predictors." in p for n in float_graphs["decoder"].graph.node if n.name in chosen for p, _ in _modules(n)
    )
    # decoder_all.onnx is the MDCT decoder alone: nothing to quantise, the float32 file
    assert (tiny_exports / "int8" / "decoder_all.onnx").read_bytes() == (
        tiny_exports / "float32" / "decoder_all.onnx"
    ).read_bytes()
    meta = json.loads((tiny_exports / "int8" / "codec.json").read_text())
    assert "per channel" in meta["int8"] and "float32: generator.decoder" in meta["int8"]


def test_a_graph_without_module_names_is_refused():
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 2]) for n in "ab"],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
    )
    with pytest.raises(RuntimeError, match="no module names"):
        int8_nodes(helper.make_model(graph))
