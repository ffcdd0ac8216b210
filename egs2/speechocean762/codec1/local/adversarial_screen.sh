#!/usr/bin/env bash
# Would adversarial training lift DNSMOS (issue 27)? The campaign trains with the mel, MDCT
# and commitment losses only (lambda_adv 0: on 2 CPU cores the discriminators cost several
# times the generator's step). Two arms continue the same teacher checkpoint for --epochs
# epochs of conf/teacher_long.yaml (same data, same steps): "mel", the campaign's losses,
# and "gan", the discriminators on (--lambda_adv, --lambda_feat_match; the paper-scale
# conf/teacher.yaml has 1 and 2). Then both, and the checkpoint they started from, are
# decoded and scored on dev (held-out utterances of training speakers; the test speakers
# are not used to choose), at 2 kbps and on the plain stream alone.
#
#   local/adversarial_screen.sh --init PTH [--expdir DIR] [--epochs 3] [--lambda_adv 1.0]
#                               [--lambda_feat_match 2.0] [--dnsmos_every 2] [--arms "mel gan"]
#                               [--lr ""]
#
# --lr sets both optimisers' learning rate (default: the config's 1e-3, where a fresh
# training starts; the checkpoint's own training has decayed below it). --arms "mel" trains
# the control alone (to compare learning rates, say).
#
# PTH is copied first (a running training may replace it). Resumable: a finished arm is
# not trained again. Each arm's last epoch is decoded. Stage 6 of codec.sh writes the
# table (RESULTS.md of the --tag _advscreen run, with paired differences); the training
# wall times are in each arm's train.log. Run stages 1-2 of run.sh first; one thread unless told otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

init=""
expdir=${HOME}/exp/speechocean762_advscreen
epochs=3
lambda_adv=1.0
lambda_feat_match=2.0
dnsmos_every=2
arms="mel gan"
lr=""
# shellcheck source=../../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
parse_options adversarial_screen.sh "$@"
[ -n "${init}" ] || { echo "adversarial_screen.sh: --init PTH (a teacher checkpoint of conf/teacher_long.yaml) is required" >&2; exit 2; }
[ -f "${init}" ] || [ -f "${expdir}/init.pth" ] || die "${init} does not exist"
need_dump dump/dev
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
codec() { budget_codec speechocean762 long "$@"; }
mkdir -p "${expdir}"
[ -f "${expdir}/init.pth" ] || cp "${init}" "${expdir}/init.pth"
lr_args=""; [ -n "${lr}" ] && lr_args="--optim_conf lr=${lr} --optim2_conf lr=${lr}"
systems=""
# each arm's last epoch is decoded (equal steps; the best by mel distance would favour the mel arm)
for name in ${arms}; do
    case ${name} in
        mel) adv=0 fm=0 ;;
        gan) adv=${lambda_adv} fm=${lambda_feat_match} ;;
        *) echo "adversarial_screen.sh: --arms: mel and/or gan, not ${name}" >&2; exit 2 ;;
    esac
    log "arm ${name}: ${epochs} epochs from ${init} (lambda_adv ${adv}, lambda_feat_match ${fm}${lr:+, lr ${lr}})"
    codec --stage 3 --stop_stage 3 --tag "_adv_${name}" --teacher_max_epoch "${epochs}" \
        --train_args "--init_param ${expdir}/init.pth --codec_conf lambda_adv=${adv} --codec_conf lambda_feat_match=${fm} ${lr_args}"
    arm=${expdir}/teacher_adv_${name}
    [ -n "${systems}" ] || systems="start:${arm}/config.yaml:${expdir}/init.pth start_plain_only:${arm}/config.yaml:${expdir}/init.pth:streams=1"
    systems+=" ${name}:${arm}/config.yaml:${arm}/latest.pth ${name}_plain_only:${arm}/config.yaml:${arm}/latest.pth:streams=1"
done
log "decoding and scoring on dev"
codec --stage 5 --stop_stage 6 --tag _advscreen --test_sets dev --systems "${systems}" --score_fs 16000 \
    --score_args "--every dnsmos:${dnsmos_every}"
