#!/usr/bin/env bash
# mini_espeak: P2PSynCodec (tiny) and SecoustiCodec (tiny) on a synthetic espeak-ng corpus,
# on CPU: the main job. local/data.sh synthesises 8 training voices and 2 unseen test voices;
# then every stage of ../../TEMPLATE/codec1/codec.sh runs with the tiny configs, first for
# P2PSynCodec (exp/RESULTS.md), then for SecoustiCodec with its ablation without the
# contrastive term (exp/RESULTS_secousti.md, which also lists P2PSynCodec's rows). Options go
# to codec.sh (./run.sh --help lists them), e.g. ./run.sh --stage 3 --ngpu 1; with
# --codec p2psyn or --codec secousti only that codec runs.
set -euo pipefail

corpus=espeak
corpus_dir=corpus  # written by local/data.sh
expect_fs=16000
fs=16000
budget=tiny        # conf/teacher_tiny.yaml, conf/student_tiny.yaml
codecs="p2psyn secousti"
p2psyn_options=(--lm_train true --lm_config ../../../conf/lm_tiny.yaml)
secousti_options=(--secousti_ablation true --train_config ../../../conf/secousti_tiny.yaml)

# shellcheck source=../../TEMPLATE/codec1/corpus.sh
. "$(dirname "$0")/../../TEMPLATE/codec1/corpus.sh"
