#!/usr/bin/env bash
# Stage driver shared by the codec recipes (P2PSynCodec, and SecoustiCodec with --codec secousti). A recipe's run.sh sets its defaults and
# calls this script from egs2/<corpus>/codec1; every option below is --name value.
#
# Stages:
#   1  data prep: local/data.sh if the recipe has one, then Lhotse manifests
#      (recordings, supervisions, cuts) per split in data/manifests
#   2  format: Kaldi-style dirs dump/<set> at --fs, mono, duration filter
#      (--codec secousti: also text units aligned to every sample, dump/<set>/frame_labels)
#   3  teacher training (RVQ of 1 + N codebooks); --codec secousti: SecoustiCodec training
#      (--secousti_ablation true: also without the contrastive term, and the speaker probe)
#   4  student training, initialised from the teacher (--init_param); not for secousti
#   5  decoding of the test sets: plain-only, student and teacher .p2p files and the wavs
#      decoded from them, measured bitrate, pseudo-token accuracy
#   6  scoring: PESQ-wb, STOI, eSTOI, LSD, mel distance, DNSMOS -> <expdir>/RESULTS.md
#   7  token dump for speech LMs: Kaldi ark/scp, Lhotse cuts, joint BPE + codec vocabulary
#      (--codec secousti: its one stream and each utterance's paralinguistic codes, in
#      dump/tokens_secousti); --lm_train true also trains ESPnet's LM on the tokens
#   8  packing: a zip with configs and checkpoints that GANCodecTask.build_model_from_file loads
#
# Training runs on CPU (--ngpu 0), one GPU (--ngpu 1), N GPUs (--ngpu N, torchrun),
# N CPU processes (--cpu_procs N, gloo), or several nodes (--num_nodes M --launcher slurm:
# srun starts one torchrun per node). Training stages resume from checkpoint.pth when
# re-run; finished stages 1, 2, 5, 6, 7 and 8 are skipped unless --force true.
set -euo pipefail

# ------------------------------------------------------------------ options
stage=1                 # first stage to run
stop_stage=8            # last stage to run
ngpu=0                  # GPUs per node (0: CPU)
num_nodes=1             # nodes (> 1 needs --launcher slurm)
cpu_procs=1             # CPU processes for distributed training without GPUs (gloo)
launcher=local          # local or slurm
nj=0                    # worker processes of ESPnet's data loader (0: load in the trainer)
corpus=                 # espeak, folder, libritts, vctk or speechocean762
corpus_dir=             # where the corpus lies on local disk
expect_fs=              # refuse corpus files at another sampling rate
fs=16000                # sampling rate of the codec
min_duration=0.5        # seconds; shorter utterances are dropped in stage 2
max_duration=30         # seconds; longer utterances are dropped in stage 2
train_set=train
valid_set=dev
test_sets="test"
train_config=           # teacher config (stage 3)
student_config=         # student config (stage 4)
inference_config=       # optional yaml for stage 5: pseudo_codeword: expected|argmax
teacher_max_epoch=      # override the configs' max_epoch (empty: keep)
student_max_epoch=
train_args=             # extra arguments for ESPnet's trainer
teacher_dir=            # teacher experiment (default: <expdir>/teacher<tag>)
student_init=           # checkpoint the student starts from (default: the teacher's best)
init_model=             # a packed zip (stage 8's, or espnet2_p2p/pretrained/*.zip): the teacher and
                        #   student stages start from its teacher and student weights (fine-tuning)
student_criterion=ce_loss  # the student's best_model_criterion (student_small_ft: mel_l1_loss)
systems=                # stage 5: space-separated LABEL:CONFIG:MODEL[:OPTIONS] (default:
                        #   plain_only, student, teacher of this tag)
score_fs=               # stage 6: score at this rate (default: each reference's)
score_nj=1              # stage 6: processes scoring utterances in parallel
score_args=             # stage 6: more options for espnet2_p2p.bin.score (e.g. --every dnsmos:10)
tag=                    # suffix of the experiment dirs
dumpdir=dump
expdir=exp
skip_token_dump=false  # true: skip stage 7
token_streams=all       # stage 7: all (plain + N pseudo), transmitted (what .p2p carries) or plain (stream 0)
nbpe=100                # stage 7: BPE pieces of the joint text + codec vocabulary
lm_train=false          # stage 7: also train ESPnet's LM on the dumped tokens
lm_config=              # stage 7: LM config (e.g. conf/lm_tiny.yaml)
lm_args=                # stage 7: extra arguments for espnet2.bin.lm_train
force=false
codec=p2psyn            # p2psyn (teacher + student) or secousti (one model, stages 2, 3, 5-8)
text_unit=phoneme       # secousti: text units of the contrastive term: phoneme (espeak-ng), bpe, char
secousti_ablation=false # secousti: also train without the contrastive term; speaker probe in stage 6

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; echo; echo "Options (default):"; \
    sed -n '/^# -* options/,/^# -* end of options/p' "$0" | grep -E '^[a-z_]+=' \
    | sed -E 's/^([a-z_]+)=([^ ]*) *#? *(.*)/  --\1 (\2)  \3/'; }
# ----------------------------------------------------------- end of options

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --*=*) name=${1%%=*}; name=${name#--}; value=${1#*=}; shift ;;
        --*) name=${1#--}; [ $# -ge 2 ] || { echo "codec.sh: $1 needs a value" >&2; exit 1; }
             value=$2; shift 2 ;;
        *) echo "codec.sh: unexpected argument '$1' (see --help)" >&2; exit 1 ;;
    esac
    if ! grep -qE "^${name}=" "$0"; then
        echo "codec.sh: unknown option --${name} (see --help)" >&2; exit 1
    fi
    printf -v "$name" '%s' "$value"
done

log() { echo "[$(date '+%H:%M:%S')] $*"; }
die() { echo "codec.sh: $*" >&2; exit 1; }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

case "${codec}" in p2psyn|secousti) ;; *) die "--codec must be p2psyn or secousti, got ${codec}" ;; esac
secousti_exp=${expdir}/secousti${tag}
secousti_ablation_exp=${expdir}/secousti_nocontrast${tag}
secousti_model=${secousti_exp}/valid.mel_l1_loss.best.pth
# where stages 5 and 6 write: SecoustiCodec beside P2PSynCodec in the same expdir
if [ "${codec}" = secousti ]; then
    decode_name=decode_secousti${tag}; scores_name=scores_secousti${tag}; results=${expdir}/RESULTS_secousti${tag}.md
else
    decode_name=decode${tag}; scores_name=scores${tag}; results=${expdir}/RESULTS.md
fi
teacher_exp=${teacher_dir:-${expdir}/teacher${tag}}
student_exp=${expdir}/student${tag}
teacher_model=${teacher_exp}/valid.mel_l1_loss.best.pth
student_model=${student_exp}/valid.${student_criterion}.best.pth
student_init=${student_init:-${teacher_model}}

# run_train CONFIG OUTPUT_DIR MAX_EPOCH [trainer options...]
run_train() {
    local config=$1 out=$2 epochs=$3
    shift 3
    [ -f "${config}" ] || die "config ${config} does not exist"
    [ -s "${dumpdir}/${train_set}/wav.scp" ] || die "${dumpdir}/${train_set}/wav.scp is missing: run stages 1-2"
    mkdir -p "${out}"
    local args=(
        --config "${config}"
        --train_data_path_and_name_and_type "${dumpdir}/${train_set}/wav.scp,audio,sound"
        --valid_data_path_and_name_and_type "${dumpdir}/${valid_set}/wav.scp,audio,sound"
        --output_dir "${out}"
        --num_workers "${nj}"
        --resume true
    )
    [ -n "${epochs}" ] && args+=(--max_epoch "${epochs}")
    # shellcheck disable=SC2206
    args+=("$@" ${train_args})
    local procs=1 backend=gloo per_proc_gpu=0
    if [ "${ngpu}" -gt 0 ]; then procs=${ngpu}; backend=nccl; per_proc_gpu=1; else procs=${cpu_procs}; fi
    local module=espnet2_p2p.bin.gan_codec_train
    log "training ${out} (${num_nodes} node(s) x ${procs} process(es), ngpu=${ngpu}); log: ${out}/train.log"
    if [ "${num_nodes}" -gt 1 ]; then
        [ "${launcher}" = slurm ] || die "--num_nodes ${num_nodes} needs --launcher slurm"
        local master
        master=$(scontrol show hostnames "${SLURM_JOB_NODELIST:?run inside a Slurm allocation}" | head -n 1)
        srun --nodes "${num_nodes}" --ntasks-per-node 1 \
            torchrun --nnodes "${num_nodes}" --nproc_per_node "${procs}" \
                --rdzv_backend c10d --rdzv_endpoint "${master}:${MASTER_PORT:-29500}" --rdzv_id "${SLURM_JOB_ID}" \
                -m "${module}" "${args[@]}" --ngpu "${per_proc_gpu}" --dist_backend "${backend}" \
                --multiprocessing_distributed false --unused_parameters true \
            >> "${out}/train.log" 2>&1 || { tail -n 20 "${out}/train.log"; die "training failed: ${out}"; }
    elif [ "${procs}" -gt 1 ]; then
        torchrun --standalone --nproc_per_node "${procs}" -m "${module}" "${args[@]}" \
            --ngpu "${per_proc_gpu}" --dist_backend "${backend}" \
            --multiprocessing_distributed false --unused_parameters true \
            >> "${out}/train.log" 2>&1 || { tail -n 20 "${out}/train.log"; die "training failed: ${out}"; }
    else
        python -m "${module}" "${args[@]}" --ngpu "${ngpu}" \
            >> "${out}/train.log" 2>&1 || { tail -n 20 "${out}/train.log"; die "training failed: ${out}"; }
    fi
    grep "epoch results" "${out}/train.log" | tail -n 1 | cut -c1-300 || true
}

done_or_force() { [ "${force}" != true ] && [ -e "$1" ]; }

if [ "${stage}" -le 1 ] && [ "${stop_stage}" -ge 1 ]; then
    if done_or_force data/manifests/.done; then
        log "stage 1: data/manifests is complete, skipping (--force true to redo)"
    else
        log "stage 1: data preparation"
        if [ -x local/data.sh ]; then local/data.sh; fi
        [ -n "${corpus}" ] || die "--corpus is not set"
        [ -n "${corpus_dir}" ] || die "--corpus_dir is not set"
        rm -rf data/manifests
        python -m espnet2_p2p.data.prepare manifests --corpus "${corpus}" \
            --corpus_dir "${corpus_dir}" --output_dir data/manifests \
            ${expect_fs:+--expect_fs "${expect_fs}"}
        touch data/manifests/.done
    fi
fi

if [ "${stage}" -le 2 ] && [ "${stop_stage}" -ge 2 ]; then
    log "stage 2: formatting ${train_set} ${valid_set} ${test_sets} at ${fs} Hz -> ${dumpdir}/"
    python -m espnet2_p2p.data.prepare format --manifest_dir data/manifests \
        --sets ${train_set} ${valid_set} ${test_sets} --dumpdir "${dumpdir}" --fs "${fs}" \
        --min_duration "${min_duration}" --max_duration "${max_duration}" \
        $( [ "${force}" = true ] && echo --force )
    if [ "${codec}" = secousti ]; then
        units=${dumpdir}/${train_set}/frame_labels/units.txt
        [ "${force}" = true ] && rm -f "${units}"
        for set in $(printf '%s\n' ${train_set} ${valid_set} ${test_sets} | awk '!seen[$0]++'); do
            if done_or_force "${dumpdir}/${set}/frame_labels/.done"; then continue; fi
            log "stage 2: ${text_unit} labels aligned to ${set} -> ${dumpdir}/${set}/frame_labels"
            python -m espnet2_p2p.bin.frame_labels --data_dir "${dumpdir}/${set}" \
                --out_dir "${dumpdir}/${set}/frame_labels" --unit "${text_unit}" --unit_list "${units}" \
                --bpe_model "${dumpdir}/${train_set}/frame_labels/bpe.model" --nbpe "${nbpe}"
            touch "${dumpdir}/${set}/frame_labels/.done"
        done
    fi
fi

labels=(
    --train_data_path_and_name_and_type "${dumpdir}/${train_set}/frame_labels/frame_labels.scp,frame_labels,npy"
    --valid_data_path_and_name_and_type "${dumpdir}/${valid_set}/frame_labels/frame_labels.scp,frame_labels,npy"
)
if [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ] && [ "${codec}" = secousti ]; then
    [ -s "${dumpdir}/${train_set}/frame_labels/frame_labels.scp" ] || die "frame labels are missing: run stage 2 with --codec secousti"
    units=$(wc -l < "${dumpdir}/${train_set}/frame_labels/units.txt")
    limit=$(sed -n 's/^ *num_text_units: *\([0-9]*\).*/\1/p' "${train_config}")
    [ "${units}" -le "${limit:-0}" ] || die "${units} text units, ${train_config} has num_text_units ${limit:-0}"
    log "stage 3: SecoustiCodec training -> ${secousti_exp}"
    run_train "${train_config}" "${secousti_exp}" "${teacher_max_epoch}" "${labels[@]}"
    if [ "${secousti_ablation}" = true ]; then
        log "stage 3: SecoustiCodec without the contrastive term -> ${secousti_ablation_exp}"
        run_train "${train_config}" "${secousti_ablation_exp}" "${teacher_max_epoch}" "${labels[@]}" \
            --codec_conf lambda_contrastive=0
    fi
elif [ "${stage}" -le 3 ] && [ "${stop_stage}" -ge 3 ]; then
    init=()
    if [ -n "${init_model}" ]; then
        log "stage 3: the teacher starts from the teacher of ${init_model}"
        python -m espnet2_p2p.bin.init_model --packed "${init_model}" --name teacher \
            --config "${train_config}" --output "${teacher_exp}/init_teacher.pth" || die "--init_model ${init_model} does not fit ${train_config}"
        init=(--init_param "${teacher_exp}/init_teacher.pth")
    fi
    log "stage 3: teacher training -> ${teacher_exp}"
    run_train "${train_config}" "${teacher_exp}" "${teacher_max_epoch}" "${init[@]}"
fi

if [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ] && [ "${codec}" = secousti ]; then
    log "stage 4: SecoustiCodec has no student stage, skipping"
elif [ "${stage}" -le 4 ] && [ "${stop_stage}" -ge 4 ]; then
    log "stage 4: student training from ${student_init} -> ${student_exp}"
    [ -f "${student_init}" ] || die "${student_init} is missing: run stage 3"
    init=(--init_param)
    if [ -n "${init_model}" ]; then
        # the packed student's predictors, then every tensor of the (adapted) teacher
        python -m espnet2_p2p.bin.init_model --packed "${init_model}" --name student \
            --config "${student_config}" --output "${student_exp}/init_student.pth" || die "--init_model ${init_model} does not fit ${student_config}"
        init+=("${student_exp}/init_student.pth")
    fi
    run_train "${student_config}" "${student_exp}" "${student_max_epoch}" "${init[@]}" "${student_init}"
fi

codeword=expected
if [ -n "${inference_config}" ]; then
    codeword=$(sed -n 's/^pseudo_codeword: *\([a-z]*\).*/\1/p' "${inference_config}")
    [ -n "${codeword}" ] || die "${inference_config} sets no pseudo_codeword"
fi
if [ -n "${systems}" ]; then
    # shellcheck disable=SC2206
    specs=(${systems})
    labels=()
    for spec in "${specs[@]}"; do labels+=("${spec%%:*}"); done
    systems=("${labels[@]}")
else
    systems=(plain_only "student_${codeword}" teacher)
fi
[ "${codec}" = secousti ] && systems=(secousti)
[ "${codec}" = secousti ] && [ "${secousti_ablation}" = true ] && systems+=(secousti_nocontrast)

redo=; [ "${force}" = true ] && redo=--force  # stages 5-6 redo systems done before
if [ "${stage}" -le 5 ] && [ "${stop_stage}" -ge 5 ]; then
    for set in ${test_sets}; do
        out=${expdir}/${decode_name}_${set}
        # decode.py keeps the systems decoded before from the same model and data
        log "stage 5: decoding ${set} -> ${out}"
        rm -f "${out}/.done"
        if [ "${codec}" = secousti ]; then
            specs=(--system "secousti:${secousti_exp}/config.yaml:${secousti_model}")
            [ "${secousti_ablation}" = true ] && specs+=(--system \
                "secousti_nocontrast:${secousti_ablation_exp}/config.yaml:${secousti_ablation_exp}/valid.mel_l1_loss.best.pth")
            python -m espnet2_p2p.bin.decode --data_dir "${dumpdir}/${set}" --output_dir "${out}" "${specs[@]}" ${redo}
        elif [ -n "${specs+x}" ]; then
            args=()
            for spec in "${specs[@]}"; do args+=(--system "${spec}"); done
            python -m espnet2_p2p.bin.decode --data_dir "${dumpdir}/${set}" --output_dir "${out}" "${args[@]}" ${redo}
        else
            python -m espnet2_p2p.bin.decode --data_dir "${dumpdir}/${set}" --output_dir "${out}" ${redo} \
                --system "plain_only:${teacher_exp}/config.yaml:${teacher_model}:streams=1" \
                --system "student_${codeword}:${student_exp}/config.yaml:${student_model}:pseudo_codeword=${codeword}" \
                --system "teacher:${teacher_exp}/config.yaml:${teacher_model}"
        fi
        touch "${out}/.done"
    done
fi

if [ "${stage}" -le 6 ] && [ "${stop_stage}" -ge 6 ]; then
    for set in ${test_sets}; do
        dec=${expdir}/${decode_name}_${set}
        out=${expdir}/${scores_name}_${set}
        [ -f "${dec}/.done" ] || die "${dec} is incomplete: run stage 5"
        # score.py keeps the scores of systems whose files did not change
        log "stage 6: scoring ${set} -> ${out}"
        hyps=()
        for s in "${systems[@]}"; do hyps+=(--hyp "${s}=${dec}/${s}"); done
        # SecoustiCodec's table also holds P2PSynCodec's rows when they were decoded here
        p2p_dec=${expdir}/decode${tag}_${set}
        if [ "${codec}" = secousti ] && [ -f "${p2p_dec}/.done" ]; then
            for s in "${p2p_dec}"/*/; do s=$(basename "${s}"); hyps+=(--hyp "${s}=${p2p_dec}/${s}"); done
        fi
        python -m espnet2_p2p.bin.score --ref "${dumpdir}/${set}/wav.scp" --output_dir "${out}" "${hyps[@]}" \
            ${score_fs:+--fs "${score_fs}"} --nj "${score_nj}" ${score_args} ${redo}
    done
    if [ "${codec}" = secousti ]; then
        probe=(--model "${secousti_exp}" --name secousti)
        [ "${secousti_ablation}" = true ] && probe+=(--model "${secousti_ablation_exp}" --name secousti_nocontrast)
        log "stage 6: codebook usage and speaker probe on ${train_set} -> ${expdir}/token_probe${tag}.md"
        python -m espnet2_p2p.bin.token_probe "${probe[@]}" --data_dir "${dumpdir}/${train_set}" \
            --output "${expdir}/token_probe${tag}.md"
    fi
    {
        echo "# Results${tag:+ (${tag})}$( [ "${codec}" = secousti ] && echo ": SecoustiCodec" )"
        for set in ${test_sets}; do
            echo; echo "## ${set}"; echo
            echo "Bitrate measured from the .p2p files written (token payload; whole files with the container):"
            echo; cat "${expdir}/${decode_name}_${set}/bitrate.md"; echo
            if [ "${codec}" = secousti ] && [ -f "${expdir}/decode${tag}_${set}/bitrate.md" ]; then
                echo "P2PSynCodec, decoded in ${expdir}/decode${tag}_${set}:"
                echo; cat "${expdir}/decode${tag}_${set}/bitrate.md"; echo
            fi
            if [ -f "${expdir}/${decode_name}_${set}/token_accuracy.md" ]; then
                echo "Pseudo-token top-1 of the student against the teacher's tokens:"
                echo; cat "${expdir}/${decode_name}_${set}/token_accuracy.md"; echo
            fi
            sed 's/^## /### /' "${expdir}/${scores_name}_${set}/RESULTS.md"
            echo; echo "Spectrograms: ${scores_name}_${set}/spectrograms.png"
        done
        if [ -f "${expdir}/token_probe${tag}.md" ]; then
            echo; sed 's/^# /## /' "${expdir}/token_probe${tag}.md"
        fi
    } > "${results}"
    log "results: $(cd "$(dirname "${results}")" && pwd)/$(basename "${results}")"
fi

if [ "${stage}" -le 7 ] && [ "${stop_stage}" -ge 7 ]; then
    if [ "${skip_token_dump}" = true ]; then
        log "stage 7: token dump skipped (--skip_token_dump true)"
    else
        if [ "${codec}" = secousti ]; then
            token_model=${secousti_model}; token_dir=${dumpdir}/tokens_secousti${tag}; lm_exp=${expdir}/lm_secousti${tag}
            [ -f "${token_model}" ] || die "${token_model} is missing: run stage 3"
        else
            token_model=${student_model}; token_dir=${dumpdir}/tokens${tag}; lm_exp=${expdir}/lm${tag}
            [ -f "${token_model}" ] || die "${token_model} is missing: run stage 4"
        fi
        for set in $(printf '%s\n' ${train_set} ${valid_set} ${test_sets} | awk '!seen[$0]++'); do
            out=${token_dir}/${set}
            if done_or_force "${out}/.done"; then log "stage 7: ${out} is complete, skipping"; continue; fi
            log "stage 7: ${token_streams} token streams of ${set} -> ${out}"
            vocab=()
            if [ "${set}" = "${train_set}" ] && [ -f "${dumpdir}/${set}/text" ]; then
                vocab=(--joint_vocab_dir "${token_dir}/joint_vocab" --nbpe "${nbpe}")
            fi
            python -m espnet2_p2p.bin.dump_tokens --model "${token_model}" \
                --data_dir "${dumpdir}/${set}" --output_dir "${out}" --streams "${token_streams}" \
                "${vocab[@]}"
        done
        if [ "${lm_train}" = true ]; then
            tokens=${token_dir}
            log "stage 7: ESPnet LM on the ${train_set} tokens -> ${lm_exp}; log: ${lm_exp}/train.log"
            mkdir -p "${lm_exp}"
            python -m espnet2.bin.lm_train --config "${lm_config}" --output_dir "${lm_exp}" \
                --token_type word --token_list "${tokens}/${train_set}/lm_token_list" \
                --train_data_path_and_name_and_type "${tokens}/${train_set}/lm_text,text,text" \
                --valid_data_path_and_name_and_type "${tokens}/${valid_set}/lm_text,text,text" \
                --train_shape_file "${tokens}/${train_set}/utt2num_frames" \
                --valid_shape_file "${tokens}/${valid_set}/utt2num_frames" \
                --ngpu "${ngpu}" --resume true ${lm_args} >> "${lm_exp}/train.log" 2>&1 \
                || { tail -n 20 "${lm_exp}/train.log"; die "LM training failed: ${lm_exp}"; }
            python -m espnet2_p2p.bin.lm_report "${lm_exp}/train.log" --output "${lm_exp}/RESULTS.md"
        fi
    fi
fi

if [ "${stage}" -le 8 ] && [ "${stop_stage}" -ge 8 ]; then
    pack=${expdir}/${codec}${tag}_packed.zip
    if done_or_force "${pack}"; then
        log "stage 8: ${pack} exists, skipping"
    elif [ "${codec}" = secousti ]; then
        log "stage 8: packing -> ${pack}"
        python -m espnet2_p2p.bin.pack --output "${pack}" \
            --model "secousti:${secousti_exp}/config.yaml:${secousti_model}"
    else
        log "stage 8: packing -> ${pack}"
        python -m espnet2_p2p.bin.pack --output "${pack}" \
            --model "student:${student_exp}/config.yaml:${student_model}" \
            --model "teacher:${teacher_exp}/config.yaml:${teacher_model}"
    fi
fi

if [ -f "${results}" ]; then
    log "finished stages ${stage}-${stop_stage}; results: $(cd "$(dirname "${results}")" && pwd)/$(basename "${results}")"
else
    log "finished stages ${stage}-${stop_stage}"
fi
