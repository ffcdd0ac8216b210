#!/usr/bin/env bash
# LibriTTS at 16 kHz with the paper-scale P2PSynCodec configs (a GPU recipe).
# Point --corpus_dir at a local LibriTTS copy holding train-clean-100, train-clean-360,
# dev-clean and test-clean (Lhotse's prepare_libritts reads it; nothing is downloaded).
#   ./run.sh --corpus_dir /data/LibriTTS --ngpu 4
# Options go to ../../TEMPLATE/codec1/codec.sh (./run.sh --help lists them).
set -euo pipefail

corpus=libritts
expect_fs=24000
fs=16000
budget=          # conf/teacher.yaml, conf/student.yaml

# shellcheck source=../../TEMPLATE/codec1/corpus.sh
. "$(dirname "$0")/../../TEMPLATE/codec1/corpus.sh"
