#!/usr/bin/env bash
# mini_espeak: P2PSynCodec (tiny) on a synthetic espeak-ng corpus, on CPU.
#   stage 1: synthesise train/dev/test (test voices are not in train)
#   stage 2: train the tiny teacher with ESPnet's trainer (resumes when re-run)
#   stage 3: train the tiny student from the teacher (--init_param; resumes when re-run)
#   stage 4: decode the test set (plain-only, student, teacher) into exp/decode
#   stage 5: score it (PESQ-wb, STOI, eSTOI, LSD, mel distance, DNSMOS) -> exp/RESULTS.md
# Usage: ./run.sh [--stage N] [--stop_stage N] [--ngpu N] [--max_epoch N] [--student_max_epoch N]
set -euo pipefail

stage=1
stop_stage=5
ngpu=0
max_epoch=40
student_max_epoch=20
train_config=../../../conf/teacher_tiny.yaml
student_config=../../../conf/student_tiny.yaml

while [ $# -gt 0 ]; do
    case "$1" in
        --stage) stage=$2; shift 2 ;;
        --stop_stage) stop_stage=$2; shift 2 ;;
        --ngpu) ngpu=$2; shift 2 ;;
        --max_epoch) max_epoch=$2; shift 2 ;;
        --student_max_epoch) student_max_epoch=$2; shift 2 ;;
        --train_config) train_config=$2; shift 2 ;;
        --student_config) student_config=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 1 ;;
    esac
done

cd "$(dirname "$0")"
exp=exp/teacher_tiny
student_exp=exp/student_tiny
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

# train CONFIG OUTPUT_DIR MAX_EPOCH [ESPnet options...]: ESPnet's trainer, resuming
# from OUTPUT_DIR/checkpoint.pth when an earlier run was interrupted.
train() {
    local config=$1 out=$2 epochs=$3
    shift 3
    mkdir -p "${out}"
    python -m espnet2_p2p.bin.gan_codec_train \
        --config "${config}" \
        --train_data_path_and_name_and_type data/train/wav.scp,audio,sound \
        --valid_data_path_and_name_and_type data/dev/wav.scp,audio,sound \
        --output_dir "${out}" \
        --ngpu "${ngpu}" \
        --max_epoch "${epochs}" \
        --resume true "$@" >> "${out}/train.log" 2>&1 \
        || { tail -20 "${out}/train.log"; exit 1; }
    grep "epoch results" "${out}/train.log" | tail -1 | cut -c1-400
}

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
    echo "stage 2: training the tiny teacher -> ${exp} (log: ${exp}/train.log)"
    train "${train_config}" "${exp}" "${max_epoch}"
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
    echo "stage 3: training the tiny student from ${exp} -> ${student_exp} (log: ${student_exp}/train.log)"
    train "${student_config}" "${student_exp}" "${student_max_epoch}" \
        --init_param "${exp}/valid.mel_l1_loss.best.pth"
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
    echo "stage 4: decoding data/test (plain-only, student, teacher) -> exp/decode"
    teacher=${exp}/valid.mel_l1_loss.best.pth
    student=${student_exp}/valid.ce_loss.best.pth
    python -m espnet2_p2p.bin.decode --data_dir data/test --output_dir exp/decode \
        --system "plain_only:${exp}/config.yaml:${teacher}:streams=1" \
        --system "student_expected:${student_exp}/config.yaml:${student}:pseudo_codeword=expected" \
        --system "student_argmax:${student_exp}/config.yaml:${student}:pseudo_codeword=argmax" \
        --system "teacher:${exp}/config.yaml:${teacher}"
fi

if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
    echo "stage 5: scoring exp/decode against data/test -> exp/scores"
    python -m espnet2_p2p.bin.score --ref data/test/wav.scp --output_dir exp/scores \
        --hyp plain_only=exp/decode/plain_only \
        --hyp student_expected=exp/decode/student_expected \
        --hyp student_argmax=exp/decode/student_argmax \
        --hyp teacher=exp/decode/teacher
    {
        echo "# mini_espeak: P2PSynCodec (tiny) on unseen test voices"
        echo
        echo "Bitrate of the token payload, measured from the codes written:"
        echo
        cat exp/decode/bitrate.md
        echo
        echo "Pseudo-token accuracy of the student against the teacher's tokens:"
        echo
        cat exp/decode/token_accuracy.md
        echo
        cat exp/scores/RESULTS.md
    } > exp/RESULTS.md
    echo "results: $(pwd)/exp/RESULTS.md (spectrograms: $(pwd)/exp/scores/spectrograms.png)"
fi
