"""Which codec is loaded is asked in ``codec/`` and the coders only (issue 28).

Every other module codes through a coder (:mod:`espnet2_p2p.coding.coder`) and reads the
:class:`~espnet2_p2p.layout.Layout`; it does not branch on ``streaming``, on whether a
codec has side information, or on class names."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the codecs, the two coders (torch: coder.py over torch_chunks.py; ONNX Runtime: onnx/), the
# one choice of the coding path (coding/chunks.py), the layout
ALLOWED = (
    "espnet2_p2p/codec/",
    "espnet2_p2p/coding/coder.py",
    "espnet2_p2p/coding/torch_chunks.py",
    "espnet2_p2p/coding/chunks.py",
    "espnet2_p2p/layout.py",
    "espnet2_p2p/onnx/",
)
PATTERNS = {
    "a branch on streaming": re.compile(r"\.streaming\b"),
    "a branch on side information": re.compile(
        r"\b(if|elif|and|or|not)\b[^#\n]*\bside_info_(bytes|levels)\b|\bside_info_bytes\b[^#\n]*\belse\b"
    ),
    "a class-name comparison": re.compile(
        r"""(==|!=)\s*["'](P2PSynCodec|SecoustiCodec)["']|__name__\s*(==|!=)\s*["']\w*Codec|\bcodec_name\b"""
    ),
    "an isinstance of a codec class": re.compile(r"isinstance\([^)]*(P2PSynCodec|SecoustiCodec)"),
}


def offenders(text: str):
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        for what, pattern in PATTERNS.items():
            if pattern.search(code) and "__main__" not in code:
                yield number, what, line.strip()


def test_no_codec_dispatch_outside_the_codecs_and_coders():
    found = []
    for path in sorted((ROOT / "espnet2_p2p").rglob("*.py")) + sorted((ROOT / "benchmarks").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(ALLOWED):
            continue
        found += [f"{rel}:{n}: {what}: {line}" for n, what, line in offenders(path.read_text())]
    assert not found, "\n".join(found)


def test_the_guard_sees_each_kind_of_dispatch():
    samples = [
        "if codec.streaming:",
        "elif self.codec.side_info_bytes:",
        "x = a if codec.side_info_bytes else b",
        'if kind == "SecoustiCodec":',
        "if type(codec).__name__ == 'P2PSynCodec':",
        "if isinstance(codec, SecoustiCodec):",
        "if self.codec_name:",
    ]
    for sample in samples:
        assert list(offenders(sample)), sample
    assert not list(offenders("return self.coder.layout.side_info_bytes > 0"))


def test_nothing_outside_bin_imports_bin():
    """bin/ is command lines only (issue 43): the package's modules never import it."""
    upward = re.compile(
        r"^\s*(from\s+espnet2_p2p\.bin\b|from\s+espnet2_p2p\s+import\s+bin\b|import\s+espnet2_p2p\.bin\b)"
    )
    found = []
    for path in sorted((ROOT / "espnet2_p2p").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("espnet2_p2p/bin/"):
            continue
        found += [
            f"{rel}:{n}: {line.strip()}"
            for n, line in enumerate(path.read_text().splitlines(), 1)
            if upward.match(line)
        ]
    assert not found, "\n".join(found)


def test_bin_is_a_thin_layer():
    """bin/ holds argument parsing and tables (issue 43): at most 15% of the package's lines."""
    lines = {p: len(p.read_text().splitlines()) for p in (ROOT / "espnet2_p2p").rglob("*.py")}
    in_bin = sum(n for p, n in lines.items() if p.relative_to(ROOT).as_posix().startswith("espnet2_p2p/bin/"))
    assert in_bin <= 0.15 * sum(lines.values()), f"bin/ holds {in_bin} of {sum(lines.values())} lines"
