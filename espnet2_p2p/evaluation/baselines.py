"""The DSP baseline: audio coded with codec2 (the command-line tools of Debian's ``codec2``
package); ``python -m espnet2_p2p.bin.codec2_baseline`` codes a set of files with it."""

import shutil
import subprocess
from pathlib import Path

import numpy as np

from espnet2_p2p.errors import P2PError

CODEC2_FS = 8000
BITRATES = {
    "3200": 3200,
    "2400": 2400,
    "1600": 1600,
    "1400": 1400,
    "1300": 1300,
    "1200": 1200,
    "700C": 700,
    "450": 450,
    "450PWB": 450,
}


def tools():
    found = [shutil.which(t) for t in ("c2enc", "c2dec")]
    if not all(found):
        raise P2PError("codec2's c2enc/c2dec are not installed (Debian/Ubuntu: apt-get install codec2)")
    return found


def code(wav: np.ndarray, fs: int, mode: str, out_fs: int, work: Path) -> np.ndarray:
    """Mono float audio at ``fs`` -> codec2 ``mode`` -> float audio at ``out_fs``."""
    from espnet2_p2p.evaluation.metrics import resample

    enc, dec = tools()
    narrow = resample(wav.astype(np.float32), fs, CODEC2_FS)
    pcm = (np.clip(narrow, -1.0, 1.0) * 32767.0).round().astype("<i2")
    (work / "in.raw").write_bytes(pcm.tobytes())
    for cmd in ([enc, mode, work / "in.raw", work / "out.bit"], [dec, mode, work / "out.bit", work / "out.raw"]):
        run = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
        if run.returncode:
            raise P2PError(f"{Path(cmd[0]).name} {mode} failed: {(run.stderr.strip().splitlines() or ['?'])[-1]}")
    decoded = np.frombuffer((work / "out.raw").read_bytes(), dtype="<i2").astype(np.float32) / 32768.0
    return resample(decoded, CODEC2_FS, out_fs)
