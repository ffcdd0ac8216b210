#!/usr/bin/env bash
# DSP baselines beside a packed model, on the same utterances and scored the same way
# (issue 27): codec2 700C (700 bit/s) and 450 (450 bit/s), from Debian's codec2 package
# (c2enc/c2dec at 8 kHz), and the model as a user codes files (p2p-codec encode, decode).
#
#   local/baselines.sh [--model ZIP] [--expdir DIR] [--sets "test real_speech"] [--nj N]
#
# Needs stages 1-2 (dump/<set>/wav.scp). Writes DIR/baselines_<set>/<system>/*.wav, scores
# them with espnet2_p2p.bin.score into DIR/scores_baselines_<set> (RESULTS.md there), and
# the tables into RESULTS_baselines.md here. The shipped model is the default --model.
set -euo pipefail
cd "$(dirname "$0")/.."

model=""
expdir=exp
sets="test real_speech"
nj=1
# shellcheck source=../../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
parse_options baselines.sh "$@"
model_args=(); [ -n "${model}" ] && model_args=(--model "${model}")

for set in ${sets}; do
    need_dump "dump/${set}"
    scp=dump/${set}/wav.scp
    out=${expdir}/baselines_${set}
    for mode in 700C 450; do
        if [ ! -s "${out}/codec2_${mode}/codec2.json" ]; then
            log "codec2 ${mode}: ${set}"
            python -m espnet2_p2p.bin.codec2_baseline --input "${scp}" --output_dir "${out}/codec2_${mode}" --mode "${mode}"
        fi
    done
    if [ ! -e "${out}/p2p/.done" ]; then
        log "p2p-codec encode + decode: ${set}"
        rm -rf "${out}/p2p" "${out}/p2p_files"
        p2p-codec encode "${scp}" "${out}/p2p_files" "${model_args[@]}" -q
        p2p-codec decode "${out}/p2p_files" "${out}/p2p" "${model_args[@]}" -q --subtype FLOAT
        p2p-codec info "${out}/p2p_files" "${model_args[@]}" -q > "${out}/p2p/bitrate.txt"
        touch "${out}/p2p/.done"
    fi
    # DNSMOS costs about 2 s an utterance here: every 10th utterance of the test set
    every=(); [ "${set}" = test ] && every=(--every dnsmos:10)
    log "scoring: ${set}"
    python -m espnet2_p2p.bin.score --ref "${scp}" --fs 16000 --nj "${nj}" "${every[@]}" \
        --hyp "p2p=${out}/p2p" --hyp "codec2_700C=${out}/codec2_700C" --hyp "codec2_450=${out}/codec2_450" \
        --output_dir "${expdir}/scores_baselines_${set}" > /dev/null
done
{
    echo "# DSP baselines beside the packed model (issue 27)"
    echo
    echo "Produced by \`local/baselines.sh ${model_args[*]} --expdir ${expdir} --sets \"${sets}\"\`:"
    echo "p2p: the model through p2p-codec encode/decode (${model:-the shipped model}); codec2_700C"
    echo "and codec2_450: Debian's codec2 (c2enc/c2dec, 8 kHz, resampled back to 16 kHz). Scored at"
    echo "16 kHz by espnet2_p2p.bin.score (aligned within 50 ms); paired differences to p2p. DNSMOS"
    echo "on every 10th utterance of test (50 of 500), on all the real clips."
    for set in ${sets}; do
        echo
        echo "## ${set}"
        echo
        echo "p2p files: $(cat "${expdir}/baselines_${set}/p2p/bitrate.txt")"
        echo
        # the summary and the paired differences: the first two sections of the scorer's RESULTS.md
        awk '/^## /{n++} n<=2' "${expdir}/scores_baselines_${set}/RESULTS.md"
    done
} > RESULTS_baselines.md
log "tables: $(pwd)/RESULTS_baselines.md"
