"""An LSTM layer as one custom operator, so that ONNX export keeps it one ``LSTM`` node.

``torch.export`` unrolls :class:`torch.nn.LSTM` into a loop over time steps, and the
graph then holds only for the length it was traced with. Here each layer (one or two
directions) is the operator ``p2p_onnx::lstm``: in PyTorch it runs ``torch.lstm``; in
the ONNX exporter :func:`onnx_lstm` translates it into ONNX's ``LSTM`` operator, whose
length is dynamic. :func:`exportable` swaps the LSTMs of a module for :class:`LayerwiseLSTM`.

Weights: PyTorch orders the gates (input, forget, cell, output) and ONNX (input, output,
forget, cell); the translation reorders them inside the graph, a ``Gather`` of each weight
that the exporter folds into a constant.
"""

from typing import List, Optional

import torch

__all__ = ["LayerwiseLSTM", "exportable", "onnx_lstm", "run_layerwise", "TRANSLATIONS"]


@torch.library.custom_op("p2p_onnx::lstm", mutates_args=())
def lstm_layer(x: torch.Tensor, weights: List[torch.Tensor], hidden: int, bidirectional: bool) -> torch.Tensor:
    """One LSTM layer, batch first: x (B, T, C) -> (B, T, directions * hidden).

    ``weights``: w_ih, w_hh, b_ih, b_hh per direction (forward first), PyTorch's layout.
    """
    directions = 2 if bidirectional else 1
    zeros = x.new_zeros(directions, x.shape[0], hidden)
    out, _, _ = torch.lstm(x, (zeros, zeros), list(weights), True, 1, 0.0, False, bidirectional, True)
    return out


@lstm_layer.register_fake
def _(x, weights, hidden, bidirectional):
    return x.new_empty(x.shape[0], x.shape[1], (2 if bidirectional else 1) * hidden)


def run_layerwise(lstm: torch.nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """A batch-first :class:`torch.nn.LSTM` (eval mode, zero initial state) on x (B, T, C),
    one ``p2p_onnx::lstm`` per layer, with the LSTM's own parameters."""
    if not lstm.batch_first or lstm.proj_size:
        raise ValueError("the layerwise LSTM takes a batch-first LSTM without projections")
    suffixes = ["", "_reverse"] if lstm.bidirectional else [""]
    for layer in range(lstm.num_layers):
        weights = []
        for suffix in suffixes:
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                weights.append(getattr(lstm, f"{kind}_l{layer}{suffix}"))
        x = lstm_layer(x, weights, lstm.hidden_size, lstm.bidirectional)
    return x


class LayerwiseLSTM(torch.nn.Module):
    """An :class:`torch.nn.LSTM` in a module's place, run by :func:`run_layerwise`; it
    shares the LSTM's parameters."""

    def __init__(self, lstm: torch.nn.LSTM):
        super().__init__()
        self.lstm = lstm

    def forward(self, x: torch.Tensor, state=None):
        if state is not None:
            raise ValueError("LayerwiseLSTM runs from a zero state only")
        return run_layerwise(self.lstm, x), None


def exportable(module: torch.nn.Module, replaced: Optional[List[tuple]] = None) -> List[tuple]:
    """Replace, in place, every :class:`torch.nn.LSTM` below ``module`` (the class itself,
    not a subclass) by a :class:`LayerwiseLSTM`. Each replacement is appended to
    ``replaced`` as (parent, name, LSTM) as it happens, so that a caller can put them back
    even when a later one fails; returns that list."""
    replaced = [] if replaced is None else replaced
    for name, child in list(module.named_children()):
        if type(child) is torch.nn.LSTM:
            setattr(module, name, LayerwiseLSTM(child))
            replaced.append((module, name, child))
        else:
            exportable(child, replaced)
    return replaced


def onnx_lstm(x, weights, hidden: int, bidirectional: bool):
    """The ONNX translation of ``p2p_onnx::lstm`` (onnxscript, opset 18)."""
    from onnxscript import opset18 as op

    directions = 2 if bidirectional else 1

    h = hidden
    order = list(range(0, h)) + list(range(3 * h, 4 * h)) + list(range(h, 2 * h)) + list(range(2 * h, 3 * h))
    order = op.Constant(value_ints=order)

    def gates_onnx(w):  # PyTorch i, f, g, o -> ONNX i, o, f, c along axis 0
        return op.Gather(w, order, axis=0)

    ws, rs, bs = [], [], []
    for d in range(directions):
        w_ih, w_hh, b_ih, b_hh = weights[4 * d : 4 * d + 4]
        ws.append(op.Unsqueeze(gates_onnx(w_ih), [0]))
        rs.append(op.Unsqueeze(gates_onnx(w_hh), [0]))
        bs.append(op.Unsqueeze(op.Concat(gates_onnx(b_ih), gates_onnx(b_hh), axis=0), [0]))
    W = op.Concat(*ws, axis=0) if directions > 1 else ws[0]
    R = op.Concat(*rs, axis=0) if directions > 1 else rs[0]
    B = op.Concat(*bs, axis=0) if directions > 1 else bs[0]
    seq = op.Transpose(x, perm=[1, 0, 2])  # (T, B, C)
    y = op.LSTM(seq, W, R, B, hidden_size=hidden, direction="bidirectional" if bidirectional else "forward")
    if isinstance(y, (tuple, list)):
        y = y[0]
    y = op.Transpose(y, perm=[2, 0, 1, 3])  # (T, D, B, H) -> (B, T, D, H)
    return op.Reshape(y, op.Constant(value_ints=[0, 0, -1]))


TRANSLATIONS = {torch.ops.p2p_onnx.lstm.default: onnx_lstm}
