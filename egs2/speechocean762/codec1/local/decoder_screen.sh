#!/usr/bin/env bash
# Issue 40: does the decoder's upsampling make the 50 Hz buzz, and does adversarial training
# remove it? Arms of the shipped student's decoder-side training (conf/student_long_gan.yaml:
# the encoder, codebooks and predictors frozen), each trained --epochs epochs from the same
# start (the packed student with the teacher's decoder; a linear arm's upsampler starts
# afresh), at equal steps:
#
#   NAME:UPSAMPLE:ADV   UPSAMPLE transposed (today's) or linear; ADV 1 with the paper's
#                       discriminators (lambda_adv 1, lambda_feat_match 2), 0 mel + MDCT only
#
#   local/decoder_screen.sh [--expdir DIR] [--epochs 3] [--arms "..."] [--zip ZIP] [--dnsmos_every 1]
#
# Then the last epoch of every arm and the shipped student are decoded through .p2p files and
# scored on dev (held-out utterances of training speakers): RESULTS.md of the _decscreen run,
# with the buzz (grid_share, grid_line_db) beside ViSQOL, PESQ, STOI and DNSMOS. Resumable:
# a finished arm is not trained again. Run stages 1-2 of run.sh first; one thread.
set -euo pipefail
cd "$(dirname "$0")/.."

expdir=${HOME}/exp/speechocean762_decoder_screen
epochs=3
arms="tconv_mel:transposed:0 linear_mel:linear:0 tconv_gan:transposed:1 linear_gan:linear:1"
zip=../../../espnet2_p2p/pretrained/speechocean762_long_ft.zip
dnsmos_every=1
# shellcheck source=../../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
parse_options decoder_screen.sh "$@"
# shellcheck source=shipped_decoder.sh
. local/shipped_decoder.sh  # codec, init_from_zip
base=$(cd ../../../conf && pwd)/student_long_gan.yaml
shipped=${expdir}/shipped
[ -f "${shipped}/packed_from" ] || python -m espnet2_p2p.bin.init_model --packed "${zip}" --name student --experiment "${shipped}"
systems="shipped:${shipped}/config.yaml:${shipped}/valid.mel_l1_loss.best.pth"
for arm in ${arms}; do
    IFS=: read -r name upsample adv <<< "${arm}"
    case ${upsample}:${adv} in
        transposed:[01]|linear:[01]) ;;
        *) echo "decoder_screen.sh: --arms wants NAME:transposed|linear:0|1, not ${arm}" >&2; exit 2 ;;
    esac
    config=${expdir}/${name}.yaml
    # the campaign's config, merged, with the arm's settings (a complete file: no base)
    python -c 'import sys, yaml; from espnet2_p2p.utils.config import load_config
c = load_config(sys.argv[1]); c["codec_conf"].update(decoder_upsample=sys.argv[2], lambda_adv=float(sys.argv[3]),
    lambda_feat_match=2.0 * float(sys.argv[3])); yaml.safe_dump(c, sys.stdout, sort_keys=False)' \
        "${base}" "${upsample}" "${adv}" > "${config}"
    init=${expdir}/init_${name}.pth
    [ -f "${init}" ] || init_from_zip student "${config}" "${init}" --decoder_of teacher
    log "arm ${name}: ${epochs} epochs (upsample ${upsample}, adversarial ${adv})"
    codec --stage 4 --stop_stage 4 --tag "_${name}" --student_config "${config}" --student_init "${init}" \
        --student_max_epoch "${epochs}" --student_criterion mel_l1_loss
    arm_dir=${expdir}/student_${name}
    systems+=" ${name}:${arm_dir}/config.yaml:${arm_dir}/latest.pth"
done
log "decoding and scoring on dev"
codec --stage 5 --stop_stage 6 --tag _decscreen --test_sets dev --systems "${systems}" --score_fs 16000 \
    --score_args "--every dnsmos:${dnsmos_every}"
