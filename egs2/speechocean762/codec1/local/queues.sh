# shellcheck shell=bash
# Stages 3-4 of run.sh (P2PSynCodec): the campaign's trainings in two queues, sourced by
# run.sh (its options, conf and codec() are set). Each line of a queue is one codec.sh call;
# a queue's calls run in order. Queue A trains the teacher, the student and student_ft;
# queue B the single VQ, single_vq_ft and, once the teacher has finished, plain_only_ft (it
# starts from the teacher), so the two queues take about as long; then the ablation
# (--ablation) and the causal variant (--causal). With --restore (no single VQ here), queue
# B trains plain_only_ft first. --jobs 1 runs queue A, then queue B.

teacher_a=(--stage 3 --stop_stage 3)
student_a=(--stage 4 --stop_stage 4)
trained=${expdir}/teacher/.trained   # queue A writes it when the teacher's training has finished
poll_seconds=${P2P_QUEUE_POLL_SECONDS:-30}
ft=(--stage 4 --stop_stage 4 --tag _ft --teacher_dir "${expdir}/teacher" --student_criterion mel_l1_loss
    --student_config "${conf}/student_${budget}_ft.yaml" --student_init "${expdir}/student/valid.ce_loss.best.pth")
single=(--stage 3 --stop_stage 3 --tag _single --train_config "${conf}/single_${budget}.yaml")
# The controls train as many epochs as student_BUDGET_ft, at its learning rate, from the
# teacher (its residual levels dropped: a single-VQ codec) and from the single VQ.
ft_epochs=$(python -m espnet2_p2p.utils.config "${conf}/student_${budget}_ft.yaml" max_epoch)
ft_lr=$(python -m espnet2_p2p.utils.config "${conf}/student_${budget}_ft.yaml" optim_conf.lr)
ft_args="--optim_conf lr=${ft_lr} --optim2_conf lr=${ft_lr}"
q=codec.generator.quantizer
plain_ft=(--stage 3 --stop_stage 3 --tag _plain_ft --train_config "${conf}/single_${budget}.yaml"
    --teacher_max_epoch "${ft_epochs}" --train_args "${train_args} ${ft_args} --init_param
    ${expdir}/teacher/valid.mel_l1_loss.best.pth:::${q}.layout,${q}.rvq.layers.1,${q}.rvq.layers.2,${q}.rvq.layers.3")
single_ft=(--stage 3 --stop_stage 3 --tag _single_ft --train_config "${conf}/single_${budget}.yaml"
    --teacher_max_epoch "${ft_epochs}" --train_args "${train_args} ${ft_args} --init_param ${expdir}/teacher_single/valid.mel_l1_loss.best.pth")
causal_pair=(--stage 3 --stop_stage 4 --tag _causal --train_config "${conf}/teacher_causal_small.yaml"
    --student_config "${conf}/student_causal_small.yaml")
causal_ft=(--stage 4 --stop_stage 4 --tag _causal_ft --teacher_dir "${expdir}/teacher_causal" --student_criterion mel_l1_loss
    --student_config "${conf}/student_causal_small_ft.yaml" --student_init "${expdir}/student_causal/valid.ce_loss.best.pth")

ablate() {  # ablate N
    codec --stage 3 --stop_stage 4 --tag "_n$1" --teacher_max_epoch "${ablation_epochs}" \
        --student_max_epoch "${ablation_student_epochs}" \
        --train_args "${train_args} --codec_conf num_pseudo=$1"
}

queue_a() { codec "${teacher_a[@]}" && touch "${trained}" && codec "${student_a[@]}" && codec "${ft[@]}"; }

wait_for_teacher() {  # in queue B: until queue A has trained the teacher (fails if queue A stopped first)
    [ -e "${trained}" ] && return 0
    log "plain_only_ft waits for the teacher (queue A)"
    while [ ! -e "${trained}" ]; do
        if ! kill -0 "${pid_a:-0}" 2>/dev/null && [ ! -e "${trained}" ]; then
            echo "run.sh: queue A stopped before the teacher finished, so plain_only_ft was not trained" >&2
            return 1
        fi
        sleep "${poll_seconds}"
    done
}

queue_b() {
    if [ -s "${expdir}/teacher/packed_from" ]; then  # --restore: the teacher is there, the single VQ is not
        codec "${plain_ft[@]}" && codec "${single[@]}" && codec "${single_ft[@]}" || return 1
    else
        codec "${single[@]}" && codec "${single_ft[@]}" && wait_for_teacher && codec "${plain_ft[@]}" || return 1
    fi
    if [ "${ablation}" = true ]; then ablate 1 && ablate 5 || return 1; fi
    if [ "${causal}" = true ]; then codec "${causal_pair[@]}" && codec "${causal_ft[@]}" || return 1; fi
}

# train_queues: both queues, side by side with --jobs 2 or more (one thread each; their
# logs: EXPDIR/queue_{a,b}.log), else one after the other; stops the script if one fails
train_queues() {
    log "stages 3-4: trainings in ${jobs} queue(s), one thread each (logs: ${expdir}/*/train.log)"
    mkdir -p "${expdir}"
    rm -f "${trained}"   # written again once this run's teacher training returns
    if [ "${jobs}" -ge 2 ]; then
        ( export OMP_NUM_THREADS=1; queue_a > "${expdir}/queue_a.log" 2>&1 ) & pid_a=$!
        ( export OMP_NUM_THREADS=1; queue_b > "${expdir}/queue_b.log" 2>&1 ) & pid_b=$!
        local status=0
        wait "${pid_a}" || { status=1; tail -n 5 "${expdir}/queue_a.log"; }
        wait "${pid_b}" || { status=1; tail -n 5 "${expdir}/queue_b.log"; }
        [ "${status}" -eq 0 ] || die "a training queue failed (${expdir}/queue_*.log)"
    else
        queue_a && queue_b
    fi
}
