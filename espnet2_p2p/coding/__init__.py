"""The coding service: audio of any length to tokens and back, through either backend.

- :mod:`~espnet2_p2p.coding.coder`: the coder contract, :class:`TorchCoder` and
  :func:`open_coder` (either backend, the shipped model, the ONNX cache);
- :mod:`~espnet2_p2p.coding.chunks`: the chunk plan of long inputs and its stitching, and
  the one choice of how an input is coded (torch-free; both backends follow it);
- :mod:`~espnet2_p2p.coding.torch_chunks`: the torch backend running that plan (overlapping
  chunks, or exact streaming);
- :mod:`~espnet2_p2p.coding.files`: files in, files out (audio <-> ``.p2p`` / ``.npy``).

    from espnet2_p2p.coding import open_coder, FileCoder
"""

from espnet2_p2p.utils.lazy import lazy_exports

__all__ = ["Coder", "TorchCoder", "open_coder", "FileCoder", "list_inputs"]
__getattr__ = lazy_exports(
    __name__,
    {"Coder": "coder", "TorchCoder": "coder", "open_coder": "coder", "FileCoder": "files", "list_inputs": "files"},
)
