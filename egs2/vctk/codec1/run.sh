#!/usr/bin/env bash
# VCTK at 48 kHz (150 Hz code rate, 1.5 kbps plain stream) with the paper-scale configs.
# Point --corpus_dir at a local VCTK copy with wav48/ and txt/ and speaker-info.txt
# (Lhotse's prepare_vctk reads it; nothing is downloaded). The last 2 speakers (sorted)
# are the test set, the 2 before them the dev set.
#   ./run.sh --corpus_dir /data/VCTK-Corpus --ngpu 4
# Options go to ../../TEMPLATE/codec1/codec.sh (./run.sh --help lists them).
set -euo pipefail

corpus=vctk
expect_fs=48000
fs=48000
budget=48k       # conf/teacher_48k.yaml, conf/student_48k.yaml

# shellcheck source=../../TEMPLATE/codec1/corpus.sh
. "$(dirname "$0")/../../TEMPLATE/codec1/corpus.sh"
