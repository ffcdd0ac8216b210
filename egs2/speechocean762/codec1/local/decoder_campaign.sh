#!/usr/bin/env bash
# Issue 40's decoder campaign: the shipped student's decoder trained for natural speech
# (conf/student_long_gan.yaml: linear upsampling, the paper's discriminators, only the decoder
# and discriminators learning, so the tokens and the bit rate stay the shipped model's) and its
# fair control, the teacher's plain VQ alone with the same decoder training from the same
# (teacher's) decoder weights (conf/plain_only_long_gan.yaml), step for step on one thread:
# both train to the first epoch of --rounds, then both to the next, and so on. After each
# round its epoch is kept (EXPDIR/student_gan/snapshots/, EXPDIR/student_plain_only_gan/snapshots/) and both are decoded through .p2p files
# and scored on dev (EXPDIR/curve/), and the learning curve is drawn again
# (EXPDIR/curve/quality_curve.png and .md: DNSMOS, ViSQOL and the 50 Hz grid lines against
# training steps).
#
#   local/decoder_campaign.sh [--expdir ~/exp/speechocean762] [--rounds "5 15 30 55 110 220"]
#                             [--zip ZIP] [--systems "student_gan plain_only_gan"] [--dnsmos_every 1]
#                             [--valid_utts 30] [--train_args "ESPnet trainer options"] [--jobs 1]
#
# A system NAME_gan trains conf/NAME_long_gan.yaml (student_* from the packed student,
# plain_only_* from the teacher's plain VQ; both with the teacher's decoder): e.g.
# --systems "student_gan student_tconv_gan" compares the two upsampling designs first.
#
# Resumable: the same command continues (each training from its checkpoint.pth; a round
# already scored is not scored again, but a system added to --systems later is trained
# through the rounds it missed and scored in each). Run stages 1-2 of run.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

expdir=${HOME}/exp/speechocean762
rounds="5 15 30 55 110 220"
zip=../../../espnet2_p2p/pretrained/speechocean762_long_ft.zip
systems="student_gan plain_only_gan"
dnsmos_every=1
train_args=     # more options for ESPnet's trainer (every training of the campaign)
jobs=1          # trainings of a round at a time (one thread each): 2 gives each system a core
valid_utts=30   # the trainings validate on 30 of dev's 90 utterances (a whole pass took a third
                # of each epoch; validation only picks "best", and the curve scores all of dev)
# shellcheck source=../../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
parse_options decoder_campaign.sh "$@"
# shellcheck source=shipped_decoder.sh
. local/shipped_decoder.sh  # codec, init_from_zip
conf=$(cd ../../../conf && pwd)
q=codec.generator.quantizer

config_of() {  # student_gan -> conf/student_long_gan.yaml, student_tconv_gan -> conf/student_tconv_long_gan.yaml
    local config=${conf}/${1%_gan}_long_gan.yaml
    [ -f "${config}" ] || { echo "decoder_campaign.sh: --systems: ${1} has no ${config}" >&2; exit 2; }
    echo "${config}"
}

exp_of() { echo "${expdir}/student_${1#student_}"; }  # codec.sh's stage 4 trains EXPDIR/student<tag>

init_of() {  # init_of SYSTEM: the .pth the system's training starts from
    local system=$1 init
    init=$(exp_of "$1")/init.pth
    mkdir -p "$(dirname "${init}")"
    if [ ! -f "${init}" ]; then
        local config
        config=$(config_of "${system}")
        case ${system} in
            student_*) init_from_zip student "${config}" "${init}" --decoder_of teacher ;;
            plain_only_*) init_from_zip teacher "${config}" "${init}" \
                --new "${q}.layout" --new "${q}.rvq.layers.1" --new "${q}.rvq.layers.2" --new "${q}.rvq.layers.3" ;;
        esac >&2
    fi
    echo "${init}"
}

train_to() {  # train_to SYSTEM EPOCHS: its training to that epoch, the epoch kept as a snapshot
    local system=$1 epochs=$2 config exp init
    config=$(config_of "${system}")
    exp=$(exp_of "${system}")
    init=$(init_of "${system}")
    log "${system}: training to epoch ${epochs}"
    codec --stage 4 --stop_stage 4 --tag "_${system#student_}" --student_config "${config}" \
        --student_init "${init}" --student_max_epoch "${epochs}" --student_criterion mel_l1_loss \
        --valid_utts "${valid_utts}" --train_args "${train_args}"
    [ "$(basename "$(readlink "${exp}/latest.pth")")" = "${epochs}epoch.pth" ] || die "${exp} did not end at epoch ${epochs}"
    mkdir -p "${exp}/snapshots"
    ln -f "${exp}/${epochs}epoch.pth" "${exp}/snapshots/${epochs}epoch.pth"  # a hard link: ESPnet removes its own later
}

[[ "${jobs}" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer, not '${jobs}'"
for epochs in ${rounds}; do
    curve=()
    pids=()
    for system in ${systems}; do
        config_of "${system}" > /dev/null  # an unknown system stops the campaign here
        exp=$(exp_of "${system}")
        snapshot=${exp}/snapshots/${epochs}epoch.pth
        if [ ! -f "${snapshot}" ]; then
            if [ "${jobs}" -eq 1 ]; then
                train_to "${system}" "${epochs}"
            else  # --jobs N: up to N trainings of the round at a time, one thread each
                [ "${#pids[@]}" -lt "${jobs}" ] || { wait "${pids[0]}" || die "a training of round ${epochs} failed"; pids=("${pids[@]:1}"); }
                train_to "${system}" "${epochs}" &
                pids+=($!)
            fi
        fi
        curve+=("${system}_e${epochs}:${exp}/config.yaml:${snapshot}")
    done
    for pid in "${pids[@]}"; do wait "${pid}" || die "a training of round ${epochs} failed"; done
    # a round is scored once per system: its .curve lists the systems scored (a system added
    # later is decoded and scored there; the others are kept by stages 5-6's caches)
    marker=${expdir}/curve/scores_e${epochs}_dev/.curve
    missing=$(for system in ${systems}; do grep -qxF "${system}" "${marker}" 2> /dev/null || echo "${system}"; done)
    if [ -n "${missing}" ]; then
        log "round ${epochs}: decoding and scoring on dev:" ${missing}
        budget_codec speechocean762 long --expdir "${expdir}/curve" --stage 5 --stop_stage 6 --tag "_e${epochs}" \
            --test_sets dev --systems "${curve[*]}" --score_fs 16000 --score_args "--every dnsmos:${dnsmos_every}"
        { printf '%s\n' ${systems}; cat "${marker}" 2> /dev/null || true; } | sort -u > "${marker}.new"
        mv "${marker}.new" "${marker}"
    fi
    python -m espnet2_p2p.bin.quality_curve --curve_dir "${expdir}/curve" --output "${expdir}/curve/quality_curve.png"
done
