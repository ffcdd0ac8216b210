# shellcheck shell=bash
# SecoustiCodec's stage blocks for codec.sh: text units aligned to the audio (2), one
# model and its ablation without the contrastive term (3; no stage 4), decoding through
# its streaming path (5), scores beside P2PSynCodec's and the speaker probe (6), its one
# token stream with the paralinguistic codes (7), packing (8).

secousti_exp=${expdir}/secousti${tag}
secousti_ablation_exp=${expdir}/secousti_nocontrast${tag}
secousti_model=${secousti_exp}/valid.mel_l1_loss.best.pth
# SecoustiCodec writes beside P2PSynCodec in the same expdir
decode_name=decode_secousti${tag}; scores_name=scores_secousti${tag}
results=${expdir}/RESULTS_secousti${tag}.md; results_title=": SecoustiCodec"
decode_specs=("secousti:${secousti_exp}/config.yaml:${secousti_model}")
systems=(secousti)
if [ "${secousti_ablation}" = true ]; then
    decode_specs+=("secousti_nocontrast:${secousti_ablation_exp}/config.yaml:${secousti_ablation_exp}/valid.mel_l1_loss.best.pth")
    systems+=(secousti_nocontrast)
fi

codec_stage2() {
    local units=${dumpdir}/${train_set}/frame_labels/units.txt set
    [ "${force}" = true ] && rm -f "${units}"
    for set in $(all_sets); do
        if done_or_force "${dumpdir}/${set}/frame_labels/.done"; then continue; fi
        log "stage 2: ${text_unit} labels aligned to ${set} -> ${dumpdir}/${set}/frame_labels"
        python -m espnet2_p2p.bin.frame_labels --data_dir "${dumpdir}/${set}" \
            --out_dir "${dumpdir}/${set}/frame_labels" --unit "${text_unit}" --text_norm "${text_norm}" --unit_list "${units}" \
            --bpe_model "${dumpdir}/${train_set}/frame_labels/bpe.model" --nbpe "${nbpe}"
        touch "${dumpdir}/${set}/frame_labels/.done"
    done
}

codec_stage3() {
    local valid
    valid=$(train_valid_dir)
    local labels=(
        --train_data_path_and_name_and_type "${dumpdir}/${train_set}/frame_labels/frame_labels.scp,frame_labels,npy"
        --valid_data_path_and_name_and_type "${valid}/frame_labels/frame_labels.scp,frame_labels,npy"
    )
    [ -s "${dumpdir}/${train_set}/frame_labels/frame_labels.scp" ] || die "frame labels are missing: run stage 2 with --codec secousti"
    local units limit
    units=$(wc -l < "${dumpdir}/${train_set}/frame_labels/units.txt")
    limit=$(python -m espnet2_p2p.utils.config "${train_config}" codec_conf.num_text_units)  # its base configs merged
    [ "${units}" -le "${limit:-0}" ] || die "${units} text units, ${train_config} has num_text_units ${limit:-0}"
    log "stage 3: SecoustiCodec training -> ${secousti_exp}"
    run_train "${train_config}" "${secousti_exp}" "${teacher_max_epoch}" "${labels[@]}"
    if [ "${secousti_ablation}" = true ]; then
        log "stage 3: SecoustiCodec without the contrastive term -> ${secousti_ablation_exp}"
        run_train "${train_config}" "${secousti_ablation_exp}" "${teacher_max_epoch}" "${labels[@]}" \
            --codec_conf lambda_contrastive=0
    fi
}

codec_stage4() { log "stage 4: SecoustiCodec has no student stage, skipping"; }

# stage 6 measures its buzz on its own code-rate grid (fs / (MDCT hop x downsample), about
# 21 Hz), P2PSynCodec's rows on theirs (50 Hz, the scorer's default)
codec_score_args() {
    local hop down s
    hop=$(python -m espnet2_p2p.utils.config "${train_config}" codec_conf.mdct_hop_length)
    down=$(python -m espnet2_p2p.utils.config "${train_config}" codec_conf.downsample)
    for s in "${systems[@]}"; do
        echo "--grid_rate ${s}=$(python -c "print(${fs} / (${hop} * ${down}))")"
    done
}

# the table also holds P2PSynCodec's rows when they were decoded in the same expdir (the
# systems of its last decoding run: summary.json)
extra_hyps() {
    local p2p_dec=${expdir}/decode${tag}_$1 s
    if [ -f "${p2p_dec}/.done" ] && [ -f "${p2p_dec}/summary.json" ]; then
        for s in $(python -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))))' "${p2p_dec}/summary.json"); do
            hyps+=(--hyp "${s}=${p2p_dec}/${s}")
        done
    fi
}

codec_stage6() {
    local probe=(--model "${secousti_exp}" --name secousti)
    [ "${secousti_ablation}" = true ] && probe+=(--model "${secousti_ablation_exp}" --name secousti_nocontrast)
    log "stage 6: codebook usage and speaker probe on ${train_set} -> ${expdir}/token_probe${tag}.md"
    python -m espnet2_p2p.bin.token_probe "${probe[@]}" --data_dir "${dumpdir}/${train_set}" \
        --output "${expdir}/token_probe${tag}.md"
}

results_extra_bitrates() {
    if [ -f "${expdir}/decode${tag}_$1/bitrate.md" ]; then
        echo "P2PSynCodec, decoded in ${expdir}/decode${tag}_$1:"
        echo; cat "${expdir}/decode${tag}_$1/bitrate.md"; echo
    fi
}

codec_stage7() { stage_tokens "${secousti_model}" "${dumpdir}/tokens_secousti${tag}" "${expdir}/lm_secousti${tag}" 3; }

codec_stage8() { stage_pack "${dumpdir}/tokens_secousti${tag}" "secousti:${secousti_exp}/config.yaml:${secousti_model}"; }
