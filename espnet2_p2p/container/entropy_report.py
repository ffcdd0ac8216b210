"""What entropy coding saves on ``.p2p`` files, measured by coding them
(``python -m espnet2_p2p.bin.entropy_report`` writes the table): the models of a packed zip
that have a prior (:func:`_models`), the one that wrote a file (:func:`_writer`) and the
rates of a set of files re-coded with its prior (:func:`measure`)."""

import time
from pathlib import Path

import numpy as np

from espnet2_p2p.layout import Rates

HEADING = "## Entropy-coded (format 4)"


def _models(zip_path: Path):
    """[(name, ModelSpec, prior)] of a packed zip's models that have a prior."""
    from espnet2_p2p.coding.coder import open_coder
    from espnet2_p2p.container.bitstream import ModelSpec
    from espnet2_p2p.model_io import packed_meta

    out = []
    for name in packed_meta(zip_path)["models"]:
        coder = open_coder(zip_path, "torch", name)
        if coder.prior is not None:
            out.append((name, ModelSpec.of(coder.layout, coder.fingerprint), coder.prior))
    return out


def _writer(path: Path, models):
    """(name, spec, prior) of the model that reads ``path`` and whose prior codes its streams."""
    from espnet2_p2p.container import bitstream
    from espnet2_p2p.errors import BitstreamError

    for name, spec, prior in models:
        try:
            header = bitstream.read_header(path, spec)
        except BitstreamError:
            continue
        if header.fingerprint == spec.fingerprint and header.num_streams == prior.num_streams:
            return name, spec, prior
    return None


def measure(files, spec, prior) -> dict:
    from espnet2_p2p.container import bitstream

    total, encode_s, decode_s = Rates(), 0.0, 0.0
    for path in files:
        header, codes = bitstream.read(path, spec=spec)
        start = time.perf_counter()
        data = bitstream.dumps(header, codes, prior, compact=True)
        encode_s += time.perf_counter() - start
        start = time.perf_counter()
        back_header, back = bitstream.loads(data, prior, spec)
        decode_s += time.perf_counter() - start
        if not np.array_equal(back, codes):
            raise SystemExit(f"entropy_report: {path}: the coded tokens do not decode to themselves")
        total += back_header.rates()
    return dict(
        files=len(files),
        seconds=total.seconds,
        payload_bps=total.payload_bps,
        coded_bps=total.coded_bps,
        file_bps=total.file_bps,
        saving=total.saving,
        encode_s=encode_s,
        decode_s=decode_s,
    )
