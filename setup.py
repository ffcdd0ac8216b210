"""espnet2_p2p: ultra-low-bitrate neural speech codecs as an ESPnet plugin."""

from setuptools import find_packages, setup

# Versions seen working together on Python 3.11 (install with pip 25.3: pip 26
# refuses one of espnet's dependencies). numpy 2.4 breaks ESPnet's chunk iterator.
# k2 (in the original design) is left out: it has no wheel for Python 3.11 / torch 2.x.
install_requires = [
    "torch==2.11.0",
    "torchaudio==2.11.0",
    "espnet==202511",
    "lhotse==1.33.0",
    "sentencepiece==0.2.0",
    "soundfile",
    "soxr==1.1.0",  # streaming resampling of input audio at any rate (memory bounded)
    "constriction==0.4.1",  # range coding of tokens (espnet2_p2p/container/entropy.py)
    "numpy<2.4",
    "tqdm",
    "matplotlib",
    "tensorboard",
    # scoring: PESQ and STOI, and DNSMOS from speechmos' bundled ONNX models (offline)
    "pesq==0.0.4",
    "pystoi==0.4.1",
    "speechmos==0.0.1.1",
    "onnxruntime==1.32.0",
    # ONNX export (espnet2_p2p/onnx): torch's dynamo exporter writes through onnxscript
    "onnx==1.23.2",
    "onnxscript==0.7.2",
    # ViSQOL v3 speech mode (pure Python port; its model files ship in the wheel)
    "visqol-python==3.8.0",
    # speaker similarity: Resemblyzer's voice encoder, its weights inside the package (it
    # pulls webrtcvad, built from source: a C compiler; and the old `typing` backport,
    # which the standard library's typing shadows)
    "resemblyzer==0.1.4",
    # the ASR probe (espnet2_p2p/evaluation/asr_probe.py): error rates (jiwer) and ESPnet's own
    # validation CER, which needs editdistance
    "jiwer==4.0.0",
    "editdistance==0.8.1",
]

extras_require = {
    # ruff: the formatter and linter of `make lint` (ruff.toml)
    "test": ["pytest", "pytest-xdist==3.8.0", "pesq==0.0.4", "pystoi==0.4.1", "hypothesis", "ruff==0.17.6"],
    # benchmarks/codec_speed.py: the published DAC 16 kHz (transformers' port), EnCodec 24 kHz
    # and SNAC 24 kHz, built with random weights from their classes (nothing is downloaded)
    "bench": ["transformers==5.23.0", "encodec==0.1.1", "snac==1.2.1"],
}

setup(
    name="espnet2_p2p",
    version="0.1.0",
    description="P2PSynCodec (0.5 kbps MDCT speech codec with plain-to-pseudo VQ) for ESPnet",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.12",
    # conf/ (the training configs) goes into the wheel as espnet2_p2p/conf
    # (espnet2_p2p.utils.config.config_dir finds either)
    packages=find_packages(include=["espnet2_p2p", "espnet2_p2p.*"]) + ["espnet2_p2p.conf"],
    package_dir={"espnet2_p2p.conf": "conf"},
    # the shipped model and its card (espnet2_p2p/pretrained), the configs
    package_data={"espnet2_p2p.pretrained": ["*.zip", "*.md"], "espnet2_p2p.conf": ["*.yaml"]},
    install_requires=install_requires,
    extras_require=extras_require,
    entry_points={"console_scripts": ["p2p-codec = espnet2_p2p.bin.p2p_codec:main"]},
)
