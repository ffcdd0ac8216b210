#!/usr/bin/env bash
# mini_espeak: the tiny teacher of P2PSynCodec on a synthetic espeak-ng corpus, on CPU.
#   stage 1: synthesise train/dev/test (test voices are not in train)
#   stage 2: train the tiny teacher with ESPnet's trainer (resumes when re-run)
#   stage 3: decode the test set (teacher, all 4 streams, and plain-only) and compare
# Usage: ./run.sh [--stage N] [--stop_stage N] [--ngpu N] [--max_epoch N]
set -euo pipefail

stage=1
stop_stage=3
ngpu=0
max_epoch=10
train_config=../../../conf/teacher_tiny.yaml

while [ $# -gt 0 ]; do
    case "$1" in
        --stage) stage=$2; shift 2 ;;
        --stop_stage) stop_stage=$2; shift 2 ;;
        --ngpu) ngpu=$2; shift 2 ;;
        --max_epoch) max_epoch=$2; shift 2 ;;
        --train_config) train_config=$2; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 1 ;;
    esac
done

cd "$(dirname "$0")"
exp=exp/teacher_tiny
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
    if [ -f data/.done ]; then
        echo "stage 1: data/ exists, skipping (rm -r data to redo)"
    else
        echo "stage 1: synthesising the corpus with espeak-ng"
        rm -rf data
        python -m espnet2_p2p.data.espeak data
        touch data/.done
    fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
    echo "stage 2: training the tiny teacher -> ${exp} (log: ${exp}/train.log)"
    mkdir -p "${exp}"
    python -m espnet2_p2p.bin.gan_codec_train \
        --config "${train_config}" \
        --train_data_path_and_name_and_type data/train/wav.scp,audio,sound \
        --valid_data_path_and_name_and_type data/dev/wav.scp,audio,sound \
        --output_dir "${exp}" \
        --ngpu "${ngpu}" \
        --max_epoch "${max_epoch}" \
        --resume true > "${exp}/train.log" 2>&1 \
        || { tail -20 "${exp}/train.log"; exit 1; }
    grep "epoch results" "${exp}/train.log" | tail -1 | cut -c1-300
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
    echo "stage 3: decoding data/test and comparing"
    model=${exp}/valid.mel_l1_loss.best.pth
    python -m espnet2_p2p.bin.compare --data_dir data/test \
        --system "teacher (all 4 streams):${exp}/config.yaml:${model}" \
        --system "plain VQ only:${exp}/config.yaml:${model}:1" \
        --output "${exp}/RESULTS.md"
    echo "results: $(pwd)/${exp}/RESULTS.md"
fi
