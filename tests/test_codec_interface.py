"""The codec interface (espnet2_p2p/codec/base.py): both codecs implement it, and nothing
outside codec/ probes a codec's attributes or reaches into its generator."""

import re
from pathlib import Path

import pytest
import torch

from conftest import load_config, task_args
from espnet2_p2p.codec.base import CodecInterface, check_streams, frames_for

PACKAGE = Path(__file__).resolve().parents[1] / "espnet2_p2p"


def test_no_attribute_probes_on_codecs_outside_codec():
    probes = re.compile(r"\b(hasattr|getattr)\(\s*(self\.)?(codec|model)\b|\bcodec\.generator\.(quantizer|bottleneck)")
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "codec" in path.relative_to(PACKAGE).parts[:1]:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if probes.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def build(name, **conf):
    from espnet2.tasks.gan_codec import GANCodecTask

    config = load_config(name)
    config["codec_conf"].update(conf)
    return GANCodecTask.build_model(task_args(config)).codec.eval()


def test_p2psyn_teacher_and_student_layouts():
    teacher, student = build("teacher_tiny.yaml"), build("student_tiny.yaml")
    for codec in (teacher, student):
        assert isinstance(codec, CodecInterface)
        assert codec.stream_sizes == [1024] * 4 and not codec.streaming
        assert codec.side_info_bytes == 0 and codec.side_info_codes(b"") is None
        assert codec.frames_for(1) == 1 and codec.frames_for(320) == 1 and codec.frames_for(321) == 2
        assert codec.frame_rate == 50.0
    assert teacher.transmitted_streams == 4 and not teacher.predicts_streams
    assert student.transmitted_streams == 1 and student.predicts_streams
    assert teacher.nominal_bitrate == 2000.0 and student.nominal_bitrate == 500.0
    assert teacher.num_streams("transmitted") == 4 and student.num_streams("all") == 4
    assert student.predictor_parameters > 0 == teacher.predictor_parameters
    with pytest.raises(ValueError, match="pseudo_codeword must be 'expected' or 'argmax'"):
        student.set_pseudo_codeword("mean")
    student.set_pseudo_codeword("argmax")
    assert student.generator.quantizer.pseudo_codeword == "argmax"
    with pytest.raises(ValueError, match="takes no side information"):
        teacher.side_info_codes(b"\0")


def test_secousti_layout_and_side_information():
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "codec"))
    from test_secousti import SMALL

    from espnet2_p2p.codec.secousti import SecoustiCodec
    from espnet2_p2p.errors import TokenError

    torch.manual_seed(0)
    codec = SecoustiCodec(**SMALL).eval()
    assert codec.streaming and codec.transmitted_streams == 1 and not codec.predicts_streams
    assert codec.stream_sizes == [codec.codebook_size] and codec.side_info_bytes == 8
    side = codec.side_info(0.3 * torch.randn(1, 1, 16000))
    assert isinstance(side, bytes) and len(side) == 8
    g = codec.side_info_codes(side)
    assert g.shape == (1, 8) and codec.side_info_codes(list(side)).equal(g)
    with pytest.raises(TokenError, match="3 values of side information, this model needs 8"):
        codec.side_info_codes(b"abc")
    with pytest.raises(ValueError, match="predicts no streams"):
        codec.set_pseudo_codeword("argmax")


def test_helpers():
    assert [frames_for(n, 320) for n in (0, 1, 319, 320, 321, 640)] == [1, 1, 1, 1, 2, 2]
    assert check_streams("all") == "all" and check_streams("plain", plain=True) == "plain"
    with pytest.raises(ValueError, match="streams must be 'transmitted' or 'all', got 'plain'"):
        check_streams("plain")
    from espnet2_p2p.utils.tokens import first_bad_token

    codes = torch.tensor([[0, 5, 1023], [7, 1024, -1]])
    assert first_bad_token(codes[:1], [1024]) is None and first_bad_token(codes.numpy()[:, :0], [4, 4]) is None
    assert tuple(first_bad_token(codes, [1024, 1024])) == (1, 1, 1024, -1, 1024)


def test_one_frame_formula_and_one_token_range_check():
    """The frame count and the token-range test are written once (utils/tokens.py); the
    codecs, the tokenizer, the container and the quantizers call them. (The MDCT's own
    frame count, one more than the code frames' formula, is another quantity.)"""
    ceil_div = re.compile(r"-\(-.*//.*hop")
    range_test = re.compile(r"\.min\(\) < 0 or .*\.max\(\) >=")
    found = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in ("tokens.py", "mdct.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ceil_div.search(line) or range_test.search(line)
    ]
    assert not found, "\n".join(found)


def test_a_codec_without_its_layout_cannot_be_built():
    class Partial(CodecInterface):
        fs = 16000

        @property
        def hop_length(self):
            return 320

    with pytest.raises(TypeError, match="abstract"):
        Partial()


def test_a_coding_backend_without_its_hooks_says_which_is_missing():
    from espnet2_p2p.coding.coder import Coder
    from espnet2_p2p.layout import Layout

    class Half(Coder):
        layout = Layout(fs=16000, hop_length=320, stream_sizes=(1024,), transmitted_streams=1)

    with pytest.raises(TypeError, match=r"abstract class Half") as err:
        Half()
    for hook in ("_plan", "_check_codes", "_encode_planned", "_decode_planned"):
        assert hook in str(err.value)
