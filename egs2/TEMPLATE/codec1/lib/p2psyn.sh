# shellcheck shell=bash
# P2PSynCodec's stage blocks for codec.sh: teacher (3), student (4), its systems (5-6),
# the student's tokens (7), the student and teacher packed with their priors (8).

teacher_exp=${teacher_dir:-${expdir}/teacher${tag}}
student_exp=${expdir}/student${tag}
teacher_model=${teacher_exp}/valid.mel_l1_loss.best.pth
student_model=${student_exp}/valid.${student_criterion}.best.pth
student_init=${student_init:-${teacher_model}}
decode_name=decode${tag}; scores_name=scores${tag}; results=${expdir}/RESULTS.md; results_title=

codeword=expected
if [ -n "${inference_config}" ]; then
    codeword=$(sed -n 's/^pseudo_codeword: *\([a-z]*\).*/\1/p' "${inference_config}")
    [ -n "${codeword}" ] || die "${inference_config} sets no pseudo_codeword"
fi
if [ -n "${systems}" ]; then
    # shellcheck disable=SC2206
    decode_specs=(${systems})
else
    decode_specs=(
        "plain_only:${teacher_exp}/config.yaml:${teacher_model}:streams=1"
        "student_${codeword}:${student_exp}/config.yaml:${student_model}:pseudo_codeword=${codeword}"
        "teacher:${teacher_exp}/config.yaml:${teacher_model}"
    )
fi
systems=()
for spec in "${decode_specs[@]}"; do systems+=("${spec%%:*}"); done

codec_stage2() { :; }

codec_stage3() {
    local init=()
    if [ -n "${init_model}" ]; then
        log "stage 3: the teacher starts from the teacher of ${init_model}"
        python -m espnet2_p2p.bin.init_model --packed "${init_model}" --name teacher \
            --config "${train_config}" --output "${teacher_exp}/init_teacher.pth" || die "--init_model ${init_model} does not fit ${train_config}"
        init=(--init_param "${teacher_exp}/init_teacher.pth")
    fi
    log "stage 3: teacher training -> ${teacher_exp}"
    run_train "${train_config}" "${teacher_exp}" "${teacher_max_epoch}" "${init[@]}"
}

codec_stage4() {
    log "stage 4: student training from ${student_init} -> ${student_exp}"
    [ -f "${student_init}" ] || die "${student_init} is missing: run stage 3"
    local init=(--init_param)
    if [ -n "${init_model}" ]; then
        # the packed student's predictors, then every tensor of the (adapted) teacher
        python -m espnet2_p2p.bin.init_model --packed "${init_model}" --name student \
            --config "${student_config}" --output "${student_exp}/init_student.pth" || die "--init_model ${init_model} does not fit ${student_config}"
        init+=("${student_exp}/init_student.pth")
    fi
    run_train "${student_config}" "${student_exp}" "${student_max_epoch}" "${init[@]}" "${student_init}"
}

extra_hyps() { :; }
codec_stage6() { :; }
results_extra_bitrates() { :; }

codec_stage7() { stage_tokens "${student_model}" "${dumpdir}/tokens${tag}" "${expdir}/lm${tag}" 4; }

codec_stage8() {
    stage_pack "${dumpdir}/tokens${tag}" "student:${student_exp}/config.yaml:${student_model}" \
        "teacher:${teacher_exp}/config.yaml:${teacher_model}"
}
