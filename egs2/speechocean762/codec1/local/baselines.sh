#!/usr/bin/env bash
# DSP baselines beside packed models, on the same utterances and scored the same way
# (issues 27 and 41): codec2 700C (700 bit/s) and 450 (450 bit/s), from Debian's codec2
# package (c2enc/c2dec at 8 kHz), and each model as a user codes files (p2p-codec encode,
# decode; p2p-codec info gives the payload and whole-file bit rates).
#
#   local/baselines.sh [--model ZIP | --models "LABEL=MODEL ..."] [--expdir DIR]
#                      [--sets "test real_speech"] [--nj N] [--results RESULTS_baselines.md]
#
# --model: one model, labelled p2p (default: the shipped model). --models: several, each
# LABEL=MODEL (a packed zip, an experiment dir or a shipped model's name; LABEL= alone: the
# shipped model); the first is the one the paired differences are taken to, e.g.
#   --models "secousti=$HOME/exp/speechocean762/secousti_packed.zip p2p=" --results RESULTS_secousti_baselines.md
# Needs stages 1-2 (dump/<set>/wav.scp). Writes DIR/baselines_<set>/<system>/*.wav, scores
# them with espnet2_p2p.bin.score into DIR/scores_<results>_<set> (RESULTS_baselines.md:
# scores_baselines_<set>; RESULTS.md there), and the tables into --results here. A codec2
# mode coded before is not coded again, nor a label whose model file is the same (SHA-256).
set -euo pipefail
cd "$(dirname "$0")/.."

model=""
models=""
expdir=exp
sets="test real_speech"
nj=1
results=RESULTS_baselines.md
# shellcheck source=../../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
parse_options baselines.sh "$@"
if [ -n "${models}" ]; then
    [ -z "${model}" ] || die "--model or --models, not both"
else
    models="p2p=${model}"
fi
labels=()
declare -A model_of
read -ra specs <<< "${models}"
for spec in "${specs[@]}"; do
    label=${spec%%=*}
    [[ "${spec}" == *=* && "${label}" =~ ^[A-Za-z0-9_]+$ ]] || die "--models: '${spec}' is not LABEL=MODEL"
    [[ "${label}" == codec2_* || -n "${model_of[${label}]+x}" ]] && die "--models: the label ${label} is taken"
    labels+=("${label}")
    model_of[${label}]=${spec#*=}
done
tag=$(basename "${results}" .md)  # RESULTS_baselines.md -> scores_baselines_<set>
tag=${tag#RESULTS_}

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
    hyps=()
    for label in "${labels[@]}"; do
        m=${model_of[${label}]}
        args=(-q); [ -n "${m}" ] && args+=(--model "${m}")
        # what the label was coded with: the model's file and its SHA-256 (coded again when it changed)
        made_with=$(python -c 'import sys; from pathlib import Path; from espnet2_p2p import pretrained
path = Path(pretrained.chosen_model(sys.argv[1] or None))
print(path.resolve(), pretrained.sha256(path) if path.is_file() else "(a folder)" if path.is_dir() else "(missing)")' "${m}") || die "--models ${label}=${m}: no such model"
        if [ ! -e "${out}/${label}/.done" ] || [ "$(cat "${out}/${label}/.done")" != "${made_with}" ]; then
            log "p2p-codec encode + decode (${label}: ${m:-the shipped model}): ${set}"
            rm -rf "${out:?}/${label}" "${out}/${label}_files"
            p2p-codec encode "${scp}" "${out}/${label}_files" "${args[@]}"
            p2p-codec decode "${out}/${label}_files" "${out}/${label}" "${args[@]}" --subtype FLOAT
            p2p-codec info "${out}/${label}_files" "${args[@]}" > "${out}/${label}/bitrate.txt"
            echo "${made_with}" > "${out}/${label}/.done"
        fi
        hyps+=(--hyp "${label}=${out}/${label}")
    done
    # DNSMOS costs about 2 s an utterance here: every 10th utterance of the test set
    every=(); [ "${set}" = test ] && every=(--every dnsmos:10)
    log "scoring: ${set}"
    python -m espnet2_p2p.bin.score --ref "${scp}" --fs 16000 --nj "${nj}" "${every[@]}" \
        "${hyps[@]}" --hyp "codec2_700C=${out}/codec2_700C" --hyp "codec2_450=${out}/codec2_450" \
        --output_dir "${expdir}/scores_${tag}_${set}" > /dev/null
done
{
    echo "# DSP baselines beside the packed models (issues 27 and 41)"
    echo
    echo "Produced by \`local/baselines.sh --models \"${models}\" --expdir ${expdir} --sets \"${sets}\"\`:"
    for label in "${labels[@]}"; do
        echo "${label}: ${model_of[${label}]:-the shipped model} through p2p-codec encode/decode;"
    done
    echo "codec2_700C and codec2_450: Debian's codec2 (c2enc/c2dec, 8 kHz, resampled back to 16 kHz)."
    echo "Scored at 16 kHz by espnet2_p2p.bin.score (aligned within 50 ms); paired differences to"
    echo "${labels[0]}. DNSMOS on every 10th utterance of test (50 of 500), on all the real clips."
    echo "grid_share and grid_line_db on the scorer's 50 Hz grid (P2PSynCodec's code rate); a codec of"
    echo "another rate (SecoustiCodec: 20.83 Hz) is measured on its own grid by its recipe stage 6."
    for set in ${sets}; do
        echo
        echo "## ${set}"
        echo
        for label in "${labels[@]}"; do
            echo "${label} files: $(cat "${expdir}/baselines_${set}/${label}/bitrate.txt")"
            echo
        done
        # the summary and the paired differences: the first two sections of the scorer's RESULTS.md
        awk '/^## /{n++} n<=2' "${expdir}/scores_${tag}_${set}/RESULTS.md"
    done
} > "${results}"
log "tables: $(pwd)/${results}"
