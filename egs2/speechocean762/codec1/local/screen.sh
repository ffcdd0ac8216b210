#!/usr/bin/env bash
# The design screen of the quality campaign (issue 27): short trainings with equal steps
# and the same data, one arm per design choice, decoded and scored on the dev set (held-out
# utterances of training speakers; the 25 test speakers are not used to choose).
#
#   local/screen.sh [--expdir DIR] [--arms "NAME:DROPOUT:PSEUDO_K[:causal] ..."]
#                   [--teacher_epochs 15] [--student_epochs 5] [--stage 3] [--stop_stage 6]
#
# Each arm trains a teacher (conf/teacher_small.yaml with the arm's quantizer dropout and
# pseudo codebook size), then its student (conf/student_small.yaml, the same overrides),
# each resumable; an arm ending in ":causal" uses conf/teacher_causal_small.yaml and
# conf/student_causal_small.yaml (the same configs with causal: true) instead; stages 5-6 decode plain_only / student / teacher of every arm on dev.
# Run stages 1-2 of run.sh first. One thread (OMP_NUM_THREADS=1) unless told otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

expdir=${HOME}/exp/speechocean762_screen
arms="do0.5_k1024:0.5:1024 do0.1_k1024:0.1:1024 do0_k1024:0:1024"
teacher_epochs=15     # x 200 steps of 8 x 0.5 s
student_epochs=5
stage=3
stop_stage=6
# shellcheck source=../../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
parse_options screen.sh "$@"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
codec() { budget_codec speechocean762 small "$@"; }
overrides() {  # overrides DROPOUT K
    echo "--codec_conf quantizer_conf.quantizer_dropout=$1 --codec_conf pseudo_codebook_size=$2"
}
configs() {  # configs VARIANT: the teacher and student configs of an arm ("" or causal)
    case "$1" in
        "") echo "--train_config ../../../conf/teacher_small.yaml --student_config ../../../conf/student_small.yaml" ;;
        causal) echo "--train_config ../../../conf/teacher_causal_small.yaml --student_config ../../../conf/student_causal_small.yaml" ;;
        *) echo "screen.sh: an arm's 4th field is causal or nothing, not '$1'" >&2; exit 1 ;;
    esac
}
train_arms() {  # train_arms 3|4: every arm's teacher (stage 3) or student (stage 4)
    local arm name dropout k variant cf epochs
    for arm in ${arms}; do
        IFS=: read -r name dropout k variant <<< "${arm}"
        if [ "$1" = 3 ]; then
            log "arm ${name}: teacher (dropout ${dropout}, pseudo codebooks ${k}${variant:+, ${variant}})"
            epochs=(--teacher_max_epoch "${teacher_epochs}")
        else
            log "arm ${name}: student"
            epochs=(--student_max_epoch "${student_epochs}")
        fi
        cf=$(configs "${variant}") || exit 1
        # shellcheck disable=SC2086
        codec --stage "$1" --stop_stage "$1" --tag "_${name}" "${epochs[@]}" ${cf} \
            --train_args "$(overrides "${dropout}" "${k}")"
    done
}
mkdir -p "${expdir}"
if in_stage 3; then train_arms 3; fi
if in_stage 4; then train_arms 4; fi
if [ "${stop_stage}" -ge 5 ]; then
    systems=
    m=valid.mel_l1_loss.best.pth; c=valid.ce_loss.best.pth
    for arm in ${arms}; do
        IFS=: read -r name _ _ _ <<< "${arm}"
        t=${expdir}/teacher_${name}; s=${expdir}/student_${name}
        systems+="${name}_plain_only:${t}/config.yaml:${t}/${m}:streams=1 "
        systems+="${name}_student_expected:${s}/config.yaml:${s}/${c}:pseudo_codeword=expected "
        systems+="${name}_student_argmax:${s}/config.yaml:${s}/${c}:pseudo_codeword=argmax "
        systems+="${name}_teacher:${t}/config.yaml:${t}/${m} "
    done
    log "stages 5-6: decoding and scoring every arm on dev"
    # DNSMOS costs about 2 s an utterance here: on every 10th dev utterance
    codec --stage 5 --stop_stage 6 --tag _screen --test_sets dev --systems "${systems% }" --score_fs 16000 \
        --score_args "--every dnsmos:10"
fi
