#!/usr/bin/env bash
# mini_espeak: P2PSynCodec (tiny) and SecoustiCodec (tiny) on a synthetic espeak-ng corpus,
# on CPU: the main job. local/data.sh synthesises 8 training voices and 2 unseen test voices;
# then every stage of ../../TEMPLATE/codec1/codec.sh runs with the tiny configs, first for
# P2PSynCodec (exp/RESULTS.md), then for SecoustiCodec with its ablation without the
# contrastive term (exp/RESULTS_secousti.md, which also lists P2PSynCodec's rows). Options go
# to codec.sh (./run.sh --help lists them), e.g. ./run.sh --stage 3 --ngpu 1; with
# --codec p2psyn or --codec secousti only that codec runs.
set -euo pipefail
cd "$(dirname "$0")"

common=(
    --corpus espeak
    --corpus_dir corpus
    --expect_fs 16000
    --fs 16000
    --train_set train
    --valid_set dev
    --test_sets test
)
codecs=(p2psyn secousti)
for arg in "$@"; do
    case "${arg}" in --codec|--codec=*) codecs=(given) ;; esac
done

for codec in "${codecs[@]}"; do
    case "${codec}" in
        p2psyn)
            ../../TEMPLATE/codec1/codec.sh "${common[@]}" \
                --train_config ../../../conf/teacher_tiny.yaml \
                --student_config ../../../conf/student_tiny.yaml \
                --lm_train true \
                --lm_config ../../../conf/lm_tiny.yaml \
                "$@" ;;
        secousti)
            ../../TEMPLATE/codec1/codec.sh "${common[@]}" \
                --codec secousti \
                --secousti_ablation true \
                --train_config ../../../conf/secousti_tiny.yaml \
                "$@" ;;
        given)
            # --codec came with the options: codec.sh gets them as they are
            extra=()
            for arg in "$@"; do [[ "${arg}" = secousti || "${arg}" = --codec=secousti ]] && extra=(--secousti_ablation true --train_config ../../../conf/secousti_tiny.yaml); done
            if [ ${#extra[@]} -eq 0 ]; then
                extra=(--train_config ../../../conf/teacher_tiny.yaml --student_config ../../../conf/student_tiny.yaml
                       --lm_train true --lm_config ../../../conf/lm_tiny.yaml)
            fi
            ../../TEMPLATE/codec1/codec.sh "${common[@]}" "${extra[@]}" "$@" ;;
    esac
done
