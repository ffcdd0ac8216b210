#!/usr/bin/env bash
# Tokens for speech LMs, measured (issue 30, item 1): what each token choice costs an LM.
#
#   local/speechlm.sh [--model ZIP] [--expdir DIR] [--choices "plain bpe teacher"] [--nbpe 2000]
#                     [--dumpdir dump] [--lm_config ../../../conf/lm_speechlm.yaml] [--lm_args "..."]
#                     [--continue_prompts 50] [--probe_choices "plain bpe teacher logmel"]
#                     [--probe_args "..."] [--secousti_model ZIP]
#
# With a packed model (default: the shipped one), on speechocean762 (train: LM training,
# dev: validation, test: the 25 unseen speakers, reported):
#   plain    the student's transmitted stream (50 tokens/s), as a .p2p file carries it
#   bpe      sentencepiece BPE units of that stream (--nbpe pieces, trained on train)
#   teacher  the teacher's 1 + N streams flattened frame by frame (200 tokens/s), the
#            layout of a single-stream speech LM (not summed embeddings with N heads)
#   secousti SecoustiCodec's one stream (--secousti_model, a packed zip or a shipped model's
#            name), as a .p2p file carries it (issue 41: its tokens are aligned with text)
# Each choice: a token dump (espnet2_p2p.bin.dump_tokens), ESPnet's LM task with one
# config for all (conf/lm_speechlm.yaml: same architecture, epochs and batch), and
# espnet2.bin.lm_calc_perplexity on test. RESULTS_speechlm.md here gets the table
# (espnet2_p2p.bin.speechlm_report), then the plain-stream LM continues --continue_prompts
# test prompts (1 s -> 3 s more), decoded by the student and scored with DNSMOS against the
# same span of real tokens (espnet2_p2p.bin.lm_continue); the teacher's LM likewise, decoded by
# the teacher with its 1 + N streams. Item 2, what the tokens know: a CTC
# ASR probe per --probe_choices (a token choice, or logmel: log-mel features of the audio)
# with one encoder for all (conf/asr_probe.yaml), trained through ESPnet's MT task
# (model discrete_asr; conf/asr_probe_tokens.yaml) or ASR task (conf/asr_probe_logmel.yaml)
# on the normalised transcripts (espnet2_p2p/evaluation/asr_probe.py), its CER and WER measured on
# test (espnet2_p2p.bin.asr_probe; "" skips the probes). Resumable: finished steps are skipped.
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
probe_choices="plain bpe teacher logmel"
probe_args=""
secousti_model=""
# shellcheck source=../../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
parse_options speechlm.sh "$@"
if [ -z "${model}" ]; then
    model=$(python -c "from espnet2_p2p import pretrained; print(pretrained.default_model())")
fi
need_dump "${dumpdir}"/{train,dev,test}
mkdir -p "${expdir}"
python -m espnet2_p2p.utils.config "${lm_config}" > "${expdir}/lm_speechlm.yaml"  # its base merged
for kind in tokens logmel; do
    python -m espnet2_p2p.utils.config "$(dirname "${lm_config}")/asr_probe_${kind}.yaml" > "${expdir}/asr_probe_${kind}.yaml"
done

dump() {  # dump NAME MODEL_NAME STREAMS [MODEL]
    local set from=${4-${model}}
    for set in train dev test; do
        if [ -e "${expdir}/tokens_$1/${set}/.done" ]; then continue; fi
        log "tokens ($1): ${set}"
        python -m espnet2_p2p.bin.dump_tokens --model "${from}" --model_name "$2" --streams "$3" \
            --data_dir "${dumpdir}/${set}" --output_dir "${expdir}/tokens_$1/${set}" > /dev/null
    done
}
reports=()
# the log-mel probe's frame rate, from its own config (fs / hop_length)
logmel_rate=$(python -c 'import sys, yaml; f = yaml.safe_load(open(sys.argv[1]))["frontend_conf"]; print(f["fs"] // f["hop_length"])' "${expdir}/asr_probe_logmel.yaml")
declare -A labels=([logmel]="log-mel features (${logmel_rate} frames/s), no codec")
for choice in ${choices}; do
    case "${choice}" in
        plain) dump plain student transmitted; label="plain stream (student, transmitted)" ;;
        teacher) dump teacher teacher all; label="teacher's 1 + N streams, flattened" ;;
        secousti)
            [ -n "${secousti_model}" ] || die "the choice secousti needs --secousti_model"
            secousti_file=$(python -c 'import sys; from espnet2_p2p import pretrained; print(pretrained.chosen_model(sys.argv[1]))' "${secousti_model}")
            dump secousti secousti transmitted "${secousti_file}"
            label="SecoustiCodec's stream (transmitted)" ;;
        bpe)
            dump plain student transmitted
            if [ ! -e "${expdir}/tokens_bpe/test/lm_text" ]; then
                log "BPE units (${nbpe}) of the plain stream"
                python - "${expdir}" "${nbpe}" <<'EOF'
import sys
from pathlib import Path
from espnet2_p2p.speechlm.token_dump import bpe_lm_text
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
        # shellcheck disable=SC2086  # lm_args: ESPnet options, one word each
        lm_train_tokens "${expdir}/lm_speechlm.yaml" "${lm}" "${tokens}/train" "${tokens}/dev" lm_shape 0 ${lm_args} || exit 1
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
    labels[${choice}]=${label}
done
for choice in plain teacher; do  # the student decodes the plain stream's, the teacher its own streams'
    [[ " ${choices} " == *" ${choice} "* ]] && [ "${continue_prompts}" -gt 0 ] || continue
    out=${expdir}/continuations_${choice}
    decoder=$([ "${choice}" = plain ] && echo student || echo teacher)
    if [ ! -s "${out}/continuations.json" ]; then
        log "${choice} LM: ${continue_prompts} continuations of test prompts, decoded by the ${decoder}"
        python -m espnet2_p2p.bin.lm_continue --lm_exp "${expdir}/lm_${choice}" --tokens "${expdir}/tokens_${choice}/test" \
            --data_dir "${dumpdir}/test" --output_dir "${out}" --model "${model}" --model_name "${decoder}" \
            --num_prompts "${continue_prompts}" > /dev/null
    fi
    reports+=(--continuations "${labels[${choice}]}=${out}/continuations.json")
done
texts=${expdir}/asr_text
if [ -n "${probe_choices}" ] && [ ! -s "${texts}/chars.txt" ]; then
    log "ASR probe: normalised transcripts -> ${texts}"
    python -m espnet2_p2p.bin.asr_probe prepare --data "train=${dumpdir}/train" --data "dev=${dumpdir}/dev" \
        --data "test=${dumpdir}/test" --output_dir "${texts}" > /dev/null
fi
for choice in ${probe_choices}; do
    [ -n "${labels[${choice}]:-}" ] || { echo "speechlm.sh: probe ${choice}: not among --choices (${choices}) or logmel" >&2; exit 2; }
    probe=${expdir}/probe_${choice}
    tokens=${expdir}/tokens_${choice}
    if [ ! -e "${probe}/.done" ]; then
        log "ASR probe (${choice}) -> ${probe}; log: ${probe}/train.log"
        mkdir -p "${probe}"
        if [ "${choice}" = logmel ]; then
            for set in train dev; do cp "${dumpdir}/${set}/utt2num_samples" "${texts}/${set}/speech_shape"; done
            task=asr; inputs=("${dumpdir}" wav.scp speech sound speech_shape "${texts}")
            extra=()
        else
            task=mt; inputs=("${tokens}" lm_text src_text text lm_shape "${tokens}")
            streams=$(python -c "import json, sys; print(json.load(open(sys.argv[1])).get('streams', 1))" \
                "${expdir}/tokens_${choice/bpe/plain}/train/token_info.json")
            extra=(--src_token_type word --src_token_list "${tokens}/train/lm_token_list")
            [ "${streams}" -eq 1 ] \
                || extra+=(--frontend patch --frontend_conf "token_per_frame=${streams}" --model_conf "patch_size=${streams}")
        fi
        data=() shapes=()
        for set in train valid; do
            dir=${set/valid/dev}
            # the transcripts' shapes come first: ESPnet takes the utterances from the first shape file
            data+=(--${set}_data_path_and_name_and_type "${inputs[0]}/${dir}/${inputs[1]},${inputs[2]},${inputs[3]}"
                   --${set}_data_path_and_name_and_type "${texts}/${dir}/text,text,text")
            shapes+=(--${set}_shape_file "${texts}/${dir}/text_shape" --${set}_shape_file "${inputs[5]}/${dir}/${inputs[4]}")
        done
        python -m espnet2.bin.${task}_train --config "${expdir}/asr_probe_$([ ${task} = asr ] && echo logmel || echo tokens).yaml" \
            --output_dir "${probe}" --token_type char --token_list "${texts}/chars.txt" "${extra[@]}" \
            "${data[@]}" "${shapes[@]}" --ngpu 0 --resume true ${probe_args} >> "${probe}/train.log" 2>&1 \
            || { tail -n 20 "${probe}/train.log"; exit 1; }
        touch "${probe}/.done"
    fi
    if [ ! -s "${probe}/test/score.json" ]; then
        log "ASR probe (${choice}): CER and WER on test"
        if [ "${choice}" = logmel ]; then task=asr; src=${dumpdir}/test/wav.scp; else task=mt; src=${tokens}/test/lm_text; fi
        python -m espnet2_p2p.bin.asr_probe score --exp "${probe}" --task ${task} --inputs "${src}" \
            --text "${texts}/test/text" --output_dir "${probe}/test"
    fi
    reports+=(--probe "${labels[${choice}]}=${probe}/test/score.json")
done
{
    echo "# Token LMs and ASR probes on speechocean762 (issue 30)"
    echo
    echo "Produced by \`local/speechlm.sh --choices \"${choices}\" --probe_choices \"${probe_choices}\"\` with"
    with=$(basename "${model}")
    [[ " ${choices} " == *" secousti "* ]] && with+=" and ${secousti_model##*/} (SecoustiCodec)"
    echo "${with}. LMs: ESPnet's LM task, one config for every choice"
    echo "(${lm_config#../../../}), trained on train, validated on dev, measured on test (25 unseen"
    echo "speakers) by espnet2.bin.lm_calc_perplexity. Probes: CTC over each input with one encoder"
    echo "(conf/asr_probe.yaml), greedy decoding, CER and WER by jiwer on test; transcripts upper-cased,"
    echo "everything but A-Z and the apostrophe made a space (espnet2_p2p/evaluation/asr_probe.py)."
    if [ "${continue_prompts}" -gt 0 ]; then
        echo "DNSMOS: the LMs' continuations of ${continue_prompts} test prompts (1 s, 3 s continued), decoded by the"
        echo "student (plain stream; pseudo streams predicted) or the teacher (its 1 + N streams) (espnet2_p2p.bin.lm_continue)."
    else
        echo "No LM continuations were decoded (--continue_prompts 0): no DNSMOS column."
    fi
    echo
    python -m espnet2_p2p.bin.speechlm_report --data_dir "${dumpdir}/test" "${reports[@]}" --output "${expdir}/speechlm_table.md" > /dev/null
    cat "${expdir}/speechlm_table.md"
} > RESULTS_speechlm.md
log "table: $(pwd)/RESULTS_speechlm.md"
