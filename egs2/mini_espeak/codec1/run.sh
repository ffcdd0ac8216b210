#!/usr/bin/env bash
# mini_espeak: P2PSynCodec (tiny) on a synthetic espeak-ng corpus, on CPU: the main job.
# local/data.sh synthesises 8 training voices and 2 unseen test voices; then every stage of
# ../../TEMPLATE/codec1/codec.sh runs with the tiny configs. Options go to codec.sh
# (./run.sh --help lists them), e.g. ./run.sh --stage 3 --ngpu 1.
set -euo pipefail
cd "$(dirname "$0")"

../../TEMPLATE/codec1/codec.sh \
    --corpus espeak \
    --corpus_dir corpus \
    --expect_fs 16000 \
    --fs 16000 \
    --train_set train \
    --valid_set dev \
    --test_sets test \
    --train_config ../../../conf/teacher_tiny.yaml \
    --student_config ../../../conf/student_tiny.yaml \
    --lm_train true \
    --lm_config ../../../conf/lm_tiny.yaml \
    "$@"
