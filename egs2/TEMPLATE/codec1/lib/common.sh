# shellcheck shell=bash
# Training and the stages every codec shares, sourced by codec.sh (its options are set, and
# lib/local.sh, the recipes' shell library, is sourced). A codec's own stage blocks are in
# lib/<codec>.sh.

done_or_force() { [ "${force}" != true ] && [ -e "$1" ]; }
# every set once, in order: train, valid, test sets
all_sets() { printf '%s\n' ${train_set} ${valid_set} ${test_sets} | awk '!seen[$0]++'; }

# The data dir the trainings validate on: dump/<valid_set>, or with --valid_utts N the N of
# its utterances spread evenly through it (dump/<valid_set>_N, written once: wav.scp and,
# when the set has them, its frame labels). Validation costs a pass over the set every
# epoch and only chooses the best checkpoint; scoring (stages 5-6) uses the whole sets.
train_valid_dir() {
    local full=${dumpdir}/${valid_set}
    [ -z "${valid_utts}" ] && { echo "${full}"; return; }
    [[ "${valid_utts}" =~ ^[1-9][0-9]*$ ]] || die "--valid_utts must be a positive number of utterances, not '${valid_utts}'"
    need_dump "${full}"
    local sub=${dumpdir}/${valid_set}_${valid_utts} total
    local labels=frame_labels/frame_labels.scp
    if [ ! -s "${sub}/wav.scp" ] || [ "${full}/wav.scp" -nt "${sub}/wav.scp" ] \
        || { [ -s "${full}/${labels}" ] && [ ! "${sub}/${labels}" -nt "${full}/${labels}" ]; }; then
        total=$(wc -l < "${full}/wav.scp")
        [ "${valid_utts}" -le "${total}" ] || die "--valid_utts ${valid_utts}: ${full} has ${total} utterances"
        mkdir -p "${sub}/frame_labels" || die "cannot write ${sub}"
        # written beside and moved into place (a training starting beside this one reads whole files)
        awk -v n="${valid_utts}" -v t="${total}" 'BEGIN { last = -1 } { k = int((NR - 1) * n / t) } k != last { print; last = k }' \
            "${full}/wav.scp" > "${sub}/wav.scp.$$" || die "cannot write ${sub}/wav.scp"
        if [ -s "${full}/${labels}" ]; then
            awk 'NR == FNR { keep[$1] = 1; next } $1 in keep' "${sub}/wav.scp.$$" "${full}/${labels}" > "${sub}/${labels}.$$" \
                && mv "${sub}/${labels}.$$" "${sub}/${labels}" || die "cannot write ${sub}/${labels}"
        fi
        mv "${sub}/wav.scp.$$" "${sub}/wav.scp" || die "cannot write ${sub}/wav.scp"
        log "validating on ${valid_utts} of the ${total} utterances of ${full}: ${sub}" >&2
    fi
    echo "${sub}"
}

# run_train CONFIG OUTPUT_DIR MAX_EPOCH [trainer options...]
# (an OUTPUT_DIR with a packed_from file holds a model restored from a packed zip: skipped)
run_train() {
    local config=$1 out=$2 epochs=$3
    shift 3
    [ -f "${config}" ] || die "config ${config} does not exist"
    if [ -s "${out}/packed_from" ]; then  # written by espnet2_p2p.bin.init_model --experiment
        log "${out} was restored from a packed model ($(cat "${out}/packed_from")): not trained here"
        return 0
    fi
    [ -s "${dumpdir}/${train_set}/wav.scp" ] || die "${dumpdir}/${train_set}/wav.scp is missing: run stages 1-2"
    mkdir -p "${out}"
    local valid
    valid=$(train_valid_dir)
    local args=(
        --config "${config}"
        --train_data_path_and_name_and_type "${dumpdir}/${train_set}/wav.scp,audio,sound"
        --valid_data_path_and_name_and_type "${valid}/wav.scp,audio,sound"
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

# ----------------------------------------------------------------- stage 1
stage_data() {
    if done_or_force data/manifests/.done; then
        log "stage 1: data/manifests is complete, skipping (--force true to redo)"
        return
    fi
    log "stage 1: data preparation"
    if [ -x local/data.sh ]; then local/data.sh; fi
    [ -n "${corpus}" ] || die "--corpus is not set"
    [ -n "${corpus_dir}" ] || die "--corpus_dir is not set"
    rm -rf data/manifests
    python -m espnet2_p2p.data.prepare manifests --corpus "${corpus}" \
        --corpus_dir "${corpus_dir}" --output_dir data/manifests \
        ${expect_fs:+--expect_fs "${expect_fs}"}
    touch data/manifests/.done
}

# ----------------------------------------------------------------- stage 2
stage_format() {
    log "stage 2: formatting ${train_set} ${valid_set} ${test_sets} at ${fs} Hz -> ${dumpdir}/"
    python -m espnet2_p2p.data.prepare format --manifest_dir data/manifests \
        --sets ${train_set} ${valid_set} ${test_sets} --dumpdir "${dumpdir}" --fs "${fs}" \
        --min_duration "${min_duration}" --max_duration "${max_duration}" \
        $( [ "${force}" = true ] && echo --force )
}

# ----------------------------------------------------------------- stage 5
# decode.py keeps the systems decoded before from the same model and data
stage_decode() {
    local set out args spec
    for set in ${test_sets}; do
        out=${expdir}/${decode_name}_${set}
        log "stage 5: decoding ${set} -> ${out}"
        rm -f "${out}/.done"
        args=()
        for spec in "${decode_specs[@]}"; do args+=(--system "${spec}"); done
        python -m espnet2_p2p.bin.decode --data_dir "${dumpdir}/${set}" --output_dir "${out}" "${args[@]}" ${redo}
        touch "${out}/.done"
    done
}

# ----------------------------------------------------------------- stage 6
# score.py keeps the scores of systems whose files did not change
stage_score() {
    local set dec out s hyps
    for set in ${test_sets}; do
        dec=${expdir}/${decode_name}_${set}
        out=${expdir}/${scores_name}_${set}
        [ -f "${dec}/.done" ] || die "${dec} is incomplete: run stage 5"
        log "stage 6: scoring ${set} -> ${out}"
        hyps=()
        for s in "${systems[@]}"; do hyps+=(--hyp "${s}=${dec}/${s}"); done
        extra_hyps "${set}"
        # a codec's own options to the scorer (lib/secousti.sh: its code rate's grid)
        local own=()
        if declare -F codec_score_args > /dev/null; then read -ra own <<< "$(codec_score_args | tr '\n' ' ')"; fi
        python -m espnet2_p2p.bin.score --ref "${dumpdir}/${set}/wav.scp" --output_dir "${out}" "${hyps[@]}" \
            ${score_fs:+--fs "${score_fs}"} --nj "${score_nj}" "${own[@]}" ${score_args} ${redo}
    done
}

# <expdir>/RESULTS.md (or the codec's name): bitrates, token accuracy, scores per set
write_results() {
    local set
    {
        echo "# Results${tag:+ (${tag})}${results_title}"
        for set in ${test_sets}; do
            echo; echo "## ${set}"; echo
            echo "Bitrate measured from the .p2p files written (token payload; whole files with the container):"
            echo; cat "${expdir}/${decode_name}_${set}/bitrate.md"; echo
            results_extra_bitrates "${set}"
            if [ -f "${expdir}/${decode_name}_${set}/token_accuracy.md" ]; then
                echo "Pseudo-token top-1 of the student against the teacher's tokens:"
                echo; cat "${expdir}/${decode_name}_${set}/token_accuracy.md"; echo
            fi
            sed 's/^## /### /' "${expdir}/${scores_name}_${set}/RESULTS.md"
            echo; echo "Spectrograms: ${scores_name}_${set}/spectrograms.png; listening page:" \
                "${scores_name}_${set}/listening.html"
        done
        if [ -f "${expdir}/token_probe${tag}.md" ]; then
            echo; sed 's/^# /## /' "${expdir}/token_probe${tag}.md"
        fi
    } > "${results}"
    log "results: $(cd "$(dirname "${results}")" && pwd)/$(basename "${results}")"
}

# ----------------------------------------------------------------- stage 7
# stage_tokens MODEL TOKEN_DIR LM_EXP MISSING_STAGE
stage_tokens() {
    local token_model=$1 token_dir=$2 lm_exp=$3 set out vocab
    if [ "${skip_token_dump}" = true ]; then
        log "stage 7: token dump skipped (--skip_token_dump true)"
        return
    fi
    [ -f "${token_model}" ] || die "${token_model} is missing: run stage $4"
    for set in $(all_sets); do
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
        log "stage 7: ESPnet LM on the ${train_set} tokens -> ${lm_exp}; log: ${lm_exp}/train.log"
        # shellcheck disable=SC2086  # lm_args: ESPnet options, one word each
        lm_train_tokens "${lm_config}" "${lm_exp}" "${token_dir}/${train_set}" "${token_dir}/${valid_set}" \
            utt2num_frames "${ngpu}" ${lm_args} || die "LM training failed: ${lm_exp}"
        python -m espnet2_p2p.bin.lm_report "${lm_exp}/train.log" --output "${lm_exp}/RESULTS.md"
    fi
}

# ----------------------------------------------------------------- stage 8
# stage_pack TOKEN_DIR NAME:CONFIG:MODEL ... -> <expdir>/<codec><tag>_packed.zip
# With --entropy true every model gets an entropy-coding prior fitted on the train set's
# transmitted tokens (<expdir>/prior_<name><tag>.npz; from TOKEN_DIR/<train_set> when it
# is a dump of that model, else coded from the audio), so p2p-codec writes format 3.
stage_pack() {
    local pack=${expdir}/${codec}${tag}_packed.zip token_dir=$1 spec name prior models=()
    shift
    if done_or_force "${pack}"; then
        log "stage 8: ${pack} exists, skipping"
        return
    fi
    for spec in "$@"; do
        if [ "${entropy}" = true ]; then
            name=${spec%%:*}
            prior=${expdir}/prior_${name}${tag}.npz
            if ! done_or_force "${prior}"; then
                log "stage 8: entropy-coding prior of ${name} on ${train_set} -> ${prior}"
                python -m espnet2_p2p.bin.fit_prior --model "${spec##*:}" \
                    --tokens_dir "${token_dir}/${train_set}" --wav_scp "${dumpdir}/${train_set}/wav.scp" \
                    ${prior_max_seconds:+--max_seconds "${prior_max_seconds}"} --output "${prior}" \
                    || die "fitting the prior of ${name} failed"
            fi
            spec+=":${prior}"
        fi
        models+=(--model "${spec}")
    done
    log "stage 8: packing -> ${pack}"
    python -m espnet2_p2p.bin.pack --output "${pack}" "${models[@]}"
    if [ "${entropy}" = true ]; then
        local set dir
        for set in ${test_sets}; do
            for dir in "${expdir}"/decode*_"${set}"; do
                [ -d "${dir}" ] || continue
                log "stage 8: coded bit/s of the files in ${dir} (bitrate_entropy.md)"
                python -m espnet2_p2p.bin.entropy_report --model "${pack}" --decode_dir "${dir}" > /dev/null \
                    || die "entropy_report failed on ${dir}"
            done
        done
    fi
}
