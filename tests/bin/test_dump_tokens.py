"""Token dump (stage 7): Kaldi ark/scp and Lhotse cuts read back equal to the tokenizer's
tokens; ESPnet's own loaders give the same tokens; the joint BPE + codec vocabulary."""

import json
import zipfile

import kaldiio
import numpy as np
import pytest
import sentencepiece as spm
import soundfile as sf
import torch
from espnet2.bin.gan_codec_inference import AudioCoding
from espnet2.tasks.gan_codec import GANCodecTask
from lhotse import CutSet
from lhotse.utils import compute_num_frames

from espnet2_p2p.bin import dump_tokens
from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import P2PError
from espnet2_p2p.speechlm.tokenizer import P2PTokenizer, TokenError


@pytest.fixture(scope="module")
def dumped(tmp_path_factory, packed_models, espeak_corpus):
    out = tmp_path_factory.mktemp("tokens")
    dump_tokens.main(
        [
            "--model",
            str(packed_models),
            "--data_dir",
            str(espeak_corpus / "train"),
            "--output_dir",
            str(out / "train"),
            "--batch_size",
            "3",
            "--joint_vocab_dir",
            str(out / "joint_vocab"),
            "--nbpe",
            "40",
        ]
    )
    return out


def test_kaldi_and_lhotse_dumps_equal_the_tokenizer(dumped, packed_models, espeak_corpus):
    tok = P2PTokenizer.from_pretrained(packed_models)
    kaldi = dump_tokens.read_back(dumped / "train", tok)
    cuts = {c.id: c for c in CutSet.from_file(dumped / "train" / "cuts.jsonl.gz")}
    wavs = read_table(espeak_corpus / "train" / "wav.scp")
    assert set(kaldi) == set(cuts) == set(wavs) and (dumped / "train" / ".done").exists()
    frames = read_table(dumped / "train" / "utt2num_frames")
    for utt, path in wavs.items():
        wav, fs = sf.read(path, dtype="float32")
        ref = tok.encode(torch.from_numpy(wav))  # each utterance alone (the dump batches 3)
        assert torch.equal(kaldi[utt], ref), utt
        np.testing.assert_array_equal(cuts[utt].codec_tokens.load(), ref.numpy())
        # Lhotse's cut.load_codec_tokens() aligns to the cut: round(duration / 0.02) frames
        # (Lhotse rounds, the codec's frame count rounds up), a prefix of the same tokens.
        aligned = cuts[utt].load_codec_tokens()
        assert len(aligned) == compute_num_frames(cuts[utt].duration, 0.02, fs) >= len(ref) - 1
        np.testing.assert_array_equal(aligned, ref.numpy()[: len(aligned)])
        assert int(frames[utt]) == len(ref) == tok.num_frames(len(wav))
        assert cuts[utt].codec_tokens.frame_shift == 0.02
        assert cuts[utt].load_audio().shape[-1] == len(wav)  # audio still next to the tokens
    info = json.loads((dumped / "train" / "token_info.json").read_text())
    assert info["offsets"] == [0, 1024, 2048, 3072] and info["order"] == "frame"
    names = (dumped / "train" / "token_list").read_text().split()
    assert len(names) == 4096 and names[3072] == "<codec_layer3_code0>"
    lm_list = (dumped / "train" / "lm_token_list").read_text().split()
    assert lm_list[:2] == ["<blank>", "<unk>"] and lm_list[-1] == "<sos/eos>" and len(lm_list) == 4099
    utt, *words = (dumped / "train" / "lm_text").read_text().splitlines()[0].split()
    assert words == [names[i] for i in tok.flatten(kaldi[utt]).tolist()]


def test_a_damaged_token_archive_is_named(dumped, packed_models, tmp_path):
    tok = P2PTokenizer.from_pretrained(packed_models)
    scp = kaldiio.load_scp(str(dumped / "train" / "tokens.scp"))
    utt = sorted(scp)[0]
    ids = np.asarray(scp[utt]).copy()
    ids[2] = 9999  # out of every stream's range
    bad = tmp_path / "bad"
    bad.mkdir()
    kaldiio.save_ark(str(bad / "tokens.ark"), {utt: ids}, scp=str(bad / "tokens.scp"))
    with pytest.raises(TokenError, match=rf"tokens.scp: {utt}: id 9999 at frame 0 is not a stream-2 id"):
        dump_tokens.read_back(bad, tok)


def test_joint_vocabulary_holds_text_and_codec_tokens(dumped):
    offsets = json.loads((dumped / "joint_vocab" / "offsets.json").read_text())
    sp = spm.SentencePieceProcessor(model_file=str(dumped / "joint_vocab" / "bpe.model"))
    start, end = offsets["codec"]["start"], offsets["codec"]["end"]
    assert end - start == 4096 and offsets["vocab_size"] == sp.get_piece_size()
    names = (dumped / "train" / "token_list").read_text().split()
    for i in (0, 1023, 1024, 4095):
        assert sp.id_to_piece(start + i) == names[i]
    text_ids = sp.encode("the quick brown fox")
    assert text_ids and all(not start <= i < end for i in text_ids)
    assert offsets["text"]["count"] > 0


def test_espnet_loads_the_packed_student_and_agrees(tmp_path, packed_models, espeak_corpus):
    with zipfile.ZipFile(packed_models) as zf:
        zf.extract("student/config.yaml", tmp_path)
        zf.extract("student/model.pth", tmp_path)
    config, model_file = tmp_path / "student" / "config.yaml", tmp_path / "student" / "model.pth"
    tok = P2PTokenizer.from_pretrained(packed_models)
    wav, _ = sf.read(next(iter(read_table(espeak_corpus / "test" / "wav.scp").values())), dtype="float32")
    x = torch.from_numpy(wav)
    ref = tok.encode(x)
    coder = AudioCoding(train_config=config, model_file=model_file)
    codes = coder(x[None], encode_only=True)["codes"]  # what ESPnet's inference transmits
    assert torch.equal(codes[:, 0].t(), ref[:, :1])
    model, _ = GANCodecTask.build_model_from_file(config, model_file, "cpu")
    model.eval()  # ESPnet returns it in training mode (the predictors' dropout would be on)
    assert torch.equal(model.codec.tokens(x.view(1, 1, -1))[:, 0].t(), ref)


def test_secousti_dump_holds_one_stream_and_paralinguistic_codes(tmp_path, espeak_corpus):
    import yaml

    from conftest import load_config, task_args
    from espnet2_p2p.tasks.gan_codec import P2PGANCodecTask

    config = load_config("secousti_tiny.yaml")
    torch.manual_seed(0)
    model = P2PGANCodecTask.build_model(task_args(config))
    exp = tmp_path / "secousti"
    exp.mkdir()
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    torch.save(model.state_dict(), exp / "model.pth")
    out = tmp_path / "tokens" / "train"
    dump_tokens.main(
        ["--model", str(exp), "--data_dir", str(espeak_corpus / "train"), "--output_dir", str(out), "--batch_size", "3"]
    )
    tok = P2PTokenizer.from_pretrained(exp)
    kaldi = dump_tokens.read_back(out, tok)
    para = dump_tokens.read_paralinguistic(out)
    cuts = {c.id: c for c in CutSet.from_file(out / "cuts.jsonl.gz")}
    wavs = read_table(espeak_corpus / "train" / "wav.scp")
    assert set(kaldi) == set(para) == set(cuts) == set(wavs)
    for utt, path in wavs.items():
        wav = torch.from_numpy(sf.read(path, dtype="float32")[0])
        assert torch.equal(kaldi[utt], tok.encode(wav)), utt  # batched = alone (causal)
        np.testing.assert_array_equal(para[utt], tok.paralinguistic(wav).numpy())
        assert cuts[utt].custom["paralinguistic"] == para[utt].tolist()
    info = json.loads((out / "token_info.json").read_text())
    assert info["streams"] == 1 and info["codebook_sizes"] == [6561] and info["paralinguistic_dim"] == 32
    assert info["paralinguistic_levels"] == 256
    with pytest.raises(P2PError, match="not a SecoustiCodec one"):
        dump_tokens.read_paralinguistic(tmp_path)
