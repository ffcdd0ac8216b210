#!/usr/bin/env bash
# Tokens for speech LMs, measured (issue 30, item 1): what each token choice costs an LM.
#
#   local/speechlm.sh [--model ZIP] [--expdir DIR] [--choices "plain bpe teacher"] [--nbpe 2000]
#                     [--dumpdir dump] [--lm_config ../../../conf/lm_speechlm.yaml] [--lm_args "..."]
#                     [--continue_prompts 50]
#
# With a packed model (default: the shipped one), on speechocean762 (train: LM training,
# dev: validation, test: the 25 unseen speakers, reported):
#   plain    the student's transmitted stream (50 tokens/s), as a .p2p file carries it
#   bpe      sentencepiece BPE units of that stream (--nbpe pieces, trained on train)
#   teacher  the teacher's 1 + N streams flattened frame by frame (200 tokens/s), the
#            layout of a single-stream speech LM (not summed embeddings with N heads)
# Each choice: a token dump (espnet2_p2p.bin.dump_tokens), ESPnet's LM task with one
# config for all (conf/lm_speechlm.yaml: same architecture, epochs and batch), and
# espnet2.bin.lm_calc_perplexity on test. RESULTS_speechlm.md here gets the table
# (espnet2_p2p.bin.speechlm_report), then the plain-stream LM continues --continue_prompts
# test prompts (1 s -> 3 s more), decoded by the student and scored with DNSMOS against the
# same span of real tokens (espnet2_p2p.bin.lm_continue). Resumable: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

model=""
expdir=exp
choices="plain bpe teacher"
nbpe=2000
dumpdir=dump
lm_config=../../../conf/lm_speechlm.yaml
lm_args=""
continue_prompts=50
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model=$2; shift 2 ;;
        --expdir) expdir=$2; shift 2 ;;
        --choices) choices=$2; shift 2 ;;
        --nbpe) nbpe=$2; shift 2 ;;
        --dumpdir) dumpdir=$2; shift 2 ;;
        --lm_config) lm_config=$2; shift 2 ;;
        --lm_args) lm_args=$2; shift 2 ;;
        --continue_prompts) continue_prompts=$2; shift 2 ;;
        *) echo "speechlm.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
log() { echo "[$(date '+%H:%M:%S')] $*"; }
if [ -z "${model}" ]; then
    model=$(python -c "from espnet2_p2p import pretrained; print(pretrained.default_model())")
fi
for set in train dev test; do
    [ -s "${dumpdir}/${set}/wav.scp" ] || { echo "speechlm.sh: ${dumpdir}/${set}/wav.scp is missing: run stages 1-2" >&2; exit 1; }
done
mkdir -p "${expdir}"
python -m espnet2_p2p.utils.config "${lm_config}" > "${expdir}/lm_speechlm.yaml"  # its base merged

dump() {  # dump NAME MODEL_NAME STREAMS
    local set
    for set in train dev test; do
        if [ -e "${expdir}/tokens_$1/${set}/.done" ]; then continue; fi
        log "tokens ($1): ${set}"
        python -m espnet2_p2p.bin.dump_tokens --model "${model}" --model_name "$2" --streams "$3" \
            --data_dir "${dumpdir}/${set}" --output_dir "${expdir}/tokens_$1/${set}" > /dev/null
    done
}
reports=()
for choice in ${choices}; do
    case "${choice}" in
        plain) dump plain student transmitted; label="plain stream (student, transmitted)" ;;
        teacher) dump teacher teacher all; label="teacher's 1 + N streams, flattened" ;;
        bpe)
            dump plain student transmitted
            if [ ! -e "${expdir}/tokens_bpe/test/lm_text" ]; then
                log "BPE units (${nbpe}) of the plain stream"
                python - "${expdir}" "${nbpe}" <<'EOF'
import sys
from pathlib import Path
from espnet2_p2p.token_dump import bpe_lm_text
exp, nbpe = Path(sys.argv[1]), int(sys.argv[2])
bpe = bpe_lm_text(exp / "tokens_plain" / "train", exp / "tokens_bpe" / "train", nbpe)
for s in ("dev", "test"):
    bpe_lm_text(exp / "tokens_plain" / s, exp / "tokens_bpe" / s, model=bpe)
EOF
            fi
            label="BPE units of the plain stream (${nbpe} pieces)" ;;
        *) echo "speechlm.sh: unknown choice ${choice}" >&2; exit 2 ;;
    esac
    tokens=${expdir}/tokens_${choice}
    lm=${expdir}/lm_${choice}
    for set in train dev; do  # ESPnet's shape files: tokens per utterance
        awk '{print $1, NF - 1}' "${tokens}/${set}/lm_text" > "${tokens}/${set}/lm_shape"
    done
    if [ ! -e "${lm}/.done" ]; then
        log "LM (${choice}) -> ${lm}; log: ${lm}/train.log"
        mkdir -p "${lm}"
        python -m espnet2.bin.lm_train --config "${expdir}/lm_speechlm.yaml" --output_dir "${lm}" \
            --token_type word --token_list "${tokens}/train/lm_token_list" \
            --train_data_path_and_name_and_type "${tokens}/train/lm_text,text,text" \
            --valid_data_path_and_name_and_type "${tokens}/dev/lm_text,text,text" \
            --train_shape_file "${tokens}/train/lm_shape" --valid_shape_file "${tokens}/dev/lm_shape" \
            --ngpu 0 --resume true ${lm_args} >> "${lm}/train.log" 2>&1 || { tail -n 20 "${lm}/train.log"; exit 1; }
        touch "${lm}/.done"
    fi
    if [ ! -s "${lm}/ppl_test/ppl" ]; then
        log "LM (${choice}): perplexity on test"
        python -m espnet2.bin.lm_calc_perplexity --ngpu 0 --batch_size 1 \
            --data_path_and_name_and_type "${tokens}/test/lm_text,text,text" \
            --train_config "${lm}/config.yaml" --model_file "${lm}/valid.loss.best.pth" \
            --output_dir "${lm}/ppl_test" > "${lm}/ppl_test.log" 2>&1 || { tail -n 20 "${lm}/ppl_test.log"; exit 1; }
    fi
    reports+=(--choice "${label}=${lm},${lm}/ppl_test,${tokens}/test")
done
continuations=""
if [[ " ${choices} " == *" plain "* ]] && [ "${continue_prompts}" -gt 0 ]; then
    if [ ! -s "${expdir}/continuations_plain/continuations.md" ]; then
        log "plain-stream LM: ${continue_prompts} continuations of test prompts, decoded by the student"
        python -m espnet2_p2p.bin.lm_continue --lm_exp "${expdir}/lm_plain" --tokens "${expdir}/tokens_plain/test" \
            --data_dir "${dumpdir}/test" --output_dir "${expdir}/continuations_plain" --model "${model}" \
            --num_prompts "${continue_prompts}" > /dev/null
    fi
    continuations=${expdir}/continuations_plain/continuations.md
fi
{
    echo "# Token LMs on speechocean762 (issue 30)"
    echo
    echo "Produced by \`local/speechlm.sh --choices \"${choices}\"\` with $(basename "${model}"): ESPnet's LM task,"
    echo "one config for every choice (${lm_config#../../../}), trained on train, validated on dev,"
    echo "measured on test (25 unseen speakers) by espnet2.bin.lm_calc_perplexity."
    echo
    python -m espnet2_p2p.bin.speechlm_report --data_dir "${dumpdir}/test" "${reports[@]}" --output "${expdir}/speechlm_table.md" > /dev/null
    cat "${expdir}/speechlm_table.md"
    if [ -n "${continuations}" ]; then
        echo
        echo "## What the plain-stream LM's tokens sound like"
        echo
        cat "${continuations}"
    fi
} > RESULTS_speechlm.md
log "table: $(pwd)/RESULTS_speechlm.md"
