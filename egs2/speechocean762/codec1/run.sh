#!/usr/bin/env bash
# speechocean762 (OpenSLR 101): P2PSynCodec on real read speech, trained on 2 CPU cores.
# 250 non-native English speakers, 6 h at 16 kHz. Point --corpus_dir at a local copy (the
# folder holding WAVE/, train/ and test/; README.md says how to get one):
#   ./run.sh --corpus_dir ~/corpora/speechocean762
# Split (espnet2_p2p.data.prepare.speechocean762_split): test = every 5th speaker of the
# corpus' test list sorted by id (25 unseen speakers), dev = 2 utterances of every 5th other
# speaker, train = the rest.
#
# Systems (all trained here, one thread each, --jobs of them at a time):
#   teacher        RVQ 1 + 3 x 1024 (2 kbps), conf/teacher_small.yaml
#   single_vq      one VQ of 1024 trained alone at 0.5 kbps, same budget (conf/single_small.yaml)
#   student        pseudo VQs predicted from the teacher's plain stream (conf/student_small.yaml)
#   student_ft     the student with its decoder fine-tuned on predicted codewords
#   plain_only_ft, single_vq_ft
#                  controls for student_ft's extra training: the teacher as a single-VQ codec
#                  (its plain VQ alone) and the single VQ, each trained as many more steps
#   n1_*, n5_*     the N ablation: plain-only and student with N = 1 and N = 5, a shorter budget
#                  (--ablation_epochs for the teachers, --ablation_student_epochs)
#   *_causal       the causal variant (conf/*_causal_small*.yaml, --causal true): teacher,
#                  plain-only, student and student_ft with the budget of the non-causal ones
# Then decoding and scoring (stages 5-6) of all of them on the test speakers and, out of
# domain, on the real clips in --real_speech_dir when it exists; RESULTS.md holds the tables.
#
# --codec secousti: SecoustiCodec at 21 Hz (0.27 kbps) instead, one training on one thread
# (conf/secousti_21hz_BUDGET.yaml, in EXPDIR/secousti), on the same data: stage 2 also writes
# its text-unit labels (espeak-ng phonemes of the lowercased transcripts, README.md); stages
# 5-6 decode and score it on the same sets (RESULTS_secousti.md), stages 7-8 dump its tokens
# and pack it (EXPDIR/secousti_packed.zip).
# Other options go to ../../TEMPLATE/codec1/codec.sh (./run.sh --help lists them).
set -euo pipefail
cd "$(dirname "$0")"

stage=1
stop_stage=8
codec=p2psyn              # p2psyn, or secousti (SecoustiCodec: one training, conf/secousti_21hz_BUDGET.yaml)
jobs=2                    # trainings run at the same time (one thread each)
ablation=true             # also the N = 1 and N = 5 ablation
ablation_epochs=5         # the ablation teachers' epochs (the main teacher: its config's)
ablation_student_epochs=3
causal=true               # also the causal variant (streams exactly; issue 21)
real_speech_dir=../../../../shared/data/real_speech
train_args=               # extra trainer arguments for every training
expdir=exp                # where the experiments go (the quality campaign keeps them outside the tree)
budget=small              # the configs: conf/{teacher,student,single}_BUDGET.yaml, conf/student_BUDGET_ft.yaml
ship=student_ft           # the student stages 7-8 dump and pack: student_ft, or student (no decoder fine-tuning)
restore=                  # a packed zip (a shipped model): its teacher and student become EXPDIR/teacher and
                          #   EXPDIR/student (EXPDIR/student_ft when its decoder was fine-tuned), finished,
                          #   so stages 3-4 train only what the zip does not hold
passthrough=()
while [ $# -gt 0 ]; do
    case "$1" in
        --stage|--stop_stage|--codec|--jobs|--ablation|--ablation_epochs|--ablation_student_epochs|--causal|--real_speech_dir|--train_args|--expdir|--budget|--ship|--restore)
            [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 1; }
            printf -v "${1#--}" '%s' "$2"; shift 2 ;;
        --help|-h) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//'; exec ../../TEMPLATE/codec1/codec.sh --help ;;
        *) passthrough+=("$1"); shift ;;
    esac
done
[ ${#passthrough[@]} -eq 0 ] || [ $(( ${#passthrough[@]} % 2 )) -eq 0 ] \
    || { echo "run.sh: options come as --name value pairs" >&2; exit 1; }

case ${ship} in
    student_ft) pack=(--tag _ft --student_criterion mel_l1_loss) ;;
    student) pack=(--student_criterion ce_loss) ;;
    *) echo "run.sh: --ship is student_ft or student, not '${ship}'" >&2; exit 1 ;;
esac

conf=../../../conf
case ${codec} in
    p2psyn) codec_opts=(); pack_opts=(--teacher_dir "${expdir}/teacher" "${pack[@]}") ;;
    # espeak-ng spells short all-caps words (IT, US) letter by letter: the contrastive term's
    # phonemes come from the lowercased transcripts
    secousti) codec_opts=(--codec secousti --train_config "${conf}/secousti_21hz_${budget}.yaml" --text_norm lower)
              pack_opts=() ;;
    *) echo "run.sh: --codec is p2psyn or secousti, not '${codec}'" >&2; exit 1 ;;
esac
# shellcheck source=../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
codec() { budget_codec speechocean762 "${budget}" "${passthrough[@]}" --train_args "${train_args}" "${codec_opts[@]}" "$@"; }
log() { echo "[$(date '+%H:%M:%S')] $*"; }
in_range() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }

test_sets=test
if [ -d "${real_speech_dir}" ]; then test_sets="test real_speech"; fi

if in_range 1; then
    codec --stage 1 --stop_stage 1
    if [ -d "${real_speech_dir}" ] && [ ! -s data/manifests/real_speech_cuts.jsonl.gz ]; then
        log "stage 1: the real clips of ${real_speech_dir} (out of domain) -> data/manifests/real_speech_*"
        rm -rf data/manifests_real
        python -m espnet2_p2p.data.prepare manifests --corpus folder \
            --corpus_dir "${real_speech_dir}" --output_dir data/manifests_real
        for kind in recordings cuts; do
            mv "data/manifests_real/all_${kind}.jsonl.gz" "data/manifests/real_speech_${kind}.jsonl.gz"
        done
        rm -rf data/manifests_real
    fi
fi
if in_range 2; then
    codec --stage 2 --stop_stage 2 --test_sets "${test_sets}"
fi

# Training queues: each line is one codec.sh call; a queue's calls run in order. Queue A
# trains the teacher, the student and student_ft; queue B the single VQ, single_vq_ft and,
# once the teacher has finished, plain_only_ft (it starts from the teacher), so the two
# queues take about as long. With --restore (no single VQ here), queue B trains plain_only_ft first.
teacher_a=(--stage 3 --stop_stage 3)
student_a=(--stage 4 --stop_stage 4)
trained=${expdir}/teacher/.trained   # queue A writes it when the teacher's training has finished
poll_seconds=${P2P_QUEUE_POLL_SECONDS:-30}
ft=(--stage 4 --stop_stage 4 --tag _ft --teacher_dir ${expdir}/teacher --student_criterion mel_l1_loss
    --student_config "${conf}/student_${budget}_ft.yaml" --student_init ${expdir}/student/valid.ce_loss.best.pth)
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
causal_ft=(--stage 4 --stop_stage 4 --tag _causal_ft --teacher_dir ${expdir}/teacher_causal --student_criterion mel_l1_loss
    --student_config "${conf}/student_causal_small_ft.yaml" --student_init ${expdir}/student_causal/valid.ce_loss.best.pth)
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
if [ "${codec}" = secousti ] && { in_range 3 || in_range 4; }; then
    log "stages 3-4: SecoustiCodec, one training on one thread (log: ${expdir}/secousti/train.log)"
    ( export OMP_NUM_THREADS=1; codec --stage 3 --stop_stage 4 ) || exit 1
elif in_range 3 || in_range 4; then
    log "stages 3-4: trainings in ${jobs} queue(s), one thread each (logs: ${expdir}/*/train.log)"
    mkdir -p "${expdir}"
    if [ -n "${restore}" ]; then  # teacher/, and student/ or student_ft/ (a fine-tuned decoder)
        python -m espnet2_p2p.bin.init_model --packed "${restore}" --restore_into "${expdir}"
    fi
    rm -f "${trained}"   # written again once this run's teacher training returns
    if [ "${jobs}" -ge 2 ]; then
        ( export OMP_NUM_THREADS=1; queue_a > ${expdir}/queue_a.log 2>&1 ) & pid_a=$!
        ( export OMP_NUM_THREADS=1; queue_b > ${expdir}/queue_b.log 2>&1 ) & pid_b=$!
        status=0
        wait "${pid_a}" || { status=1; tail -n 5 ${expdir}/queue_a.log; }
        wait "${pid_b}" || { status=1; tail -n 5 ${expdir}/queue_b.log; }
        [ "${status}" -eq 0 ] || { echo "run.sh: a training queue failed (${expdir}/queue_*.log)" >&2; exit 1; }
    else
        queue_a && queue_b
    fi
fi

m=valid.mel_l1_loss.best.pth
c=valid.ce_loss.best.pth
systems="single_vq:${expdir}/teacher_single/config.yaml:${expdir}/teacher_single/${m}
plain_only:${expdir}/teacher/config.yaml:${expdir}/teacher/${m}:streams=1
student_expected:${expdir}/student/config.yaml:${expdir}/student/${c}:pseudo_codeword=expected
student_argmax:${expdir}/student/config.yaml:${expdir}/student/${c}:pseudo_codeword=argmax
student_ft:${expdir}/student_ft/config.yaml:${expdir}/student_ft/${m}
plain_only_ft:${expdir}/teacher_plain_ft/config.yaml:${expdir}/teacher_plain_ft/${m}
single_vq_ft:${expdir}/teacher_single_ft/config.yaml:${expdir}/teacher_single_ft/${m}
teacher:${expdir}/teacher/config.yaml:${expdir}/teacher/${m}"
students=student_expected,student_argmax,student_ft
pairs=student_ft-plain_only_ft,student_ft-single_vq_ft
[ "${ablation}" = true ] && pairs+=,n1_student-n1_plain_only,n5_student-n5_plain_only,n1_student-single_vq,n5_student-single_vq
if [ "${ablation}" = true ]; then
    for n in 1 5; do
        systems+="
n${n}_plain_only:${expdir}/teacher_n${n}/config.yaml:${expdir}/teacher_n${n}/${m}:streams=1
n${n}_student:${expdir}/student_n${n}/config.yaml:${expdir}/student_n${n}/${c}"
    done
fi
if [ "${causal}" = true ]; then
    systems+="
plain_only_causal:${expdir}/teacher_causal/config.yaml:${expdir}/teacher_causal/${m}:streams=1
student_causal:${expdir}/student_causal/config.yaml:${expdir}/student_causal/${c}:pseudo_codeword=expected
student_causal_ft:${expdir}/student_causal_ft/config.yaml:${expdir}/student_causal_ft/${m}
teacher_causal:${expdir}/teacher_causal/config.yaml:${expdir}/teacher_causal/${m}"
    pairs+=,student_causal-student_expected,student_causal_ft-student_ft,student_causal_ft-plain_only_causal,teacher_causal-teacher
fi
# stages 5-6 decode and score these systems into EXPDIR/{decode,scores}_SET, or (--codec secousti) the
# SecoustiCodec experiment into EXPDIR/{decode,scores}_secousti_SET (codec.sh's lib/secousti.sh)
if [ "${codec}" = secousti ]; then suffix=_secousti; system_opts=(); else suffix=; system_opts=(--systems "${systems}"); fi
if in_range 5; then
    # decoding is single-threaded: one process per test set, side by side
    pids=()
    for set in ${test_sets}; do
        ( export OMP_NUM_THREADS=1
          codec --stage 5 --stop_stage 5 --test_sets "${set}" "${system_opts[@]}" > "${expdir}/decode${suffix}_${set}.log" 2>&1 ) &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "${pid}" || { tail -n 5 "${expdir}"/decode"${suffix}"_*.log; exit 1; }; done
fi
if in_range 6; then
    for set in ${test_sets}; do
        # DNSMOS costs about 2 s an utterance here: on every 10th test utterance (all real clips)
        sparse=(); [ "${set}" = test ] && sparse=(--score_args "--every dnsmos:10")
        codec --stage 6 --stop_stage 6 --test_sets "${set}" "${system_opts[@]}" --score_fs 16000 \
            --score_nj "${jobs}" "${sparse[@]}"
    done
fi
if in_range 6 && [ "${codec}" = secousti ]; then
    {
        echo "# speechocean762: SecoustiCodec at 21 Hz (0.27 kbps) on real speech"
        echo
        echo "Produced by egs2/speechocean762/codec1/run.sh --codec secousti --budget ${budget} (stages 5-6):"
        echo "conf/secousti_21hz_${budget}.yaml, trained on the text-unit labels of the lowercased transcripts."
        echo "The sets of RESULTS.md (test: 25 unseen speakers; real_speech: real clips out of domain),"
        echo "scored at 16 kHz. Its rows sit beside those of RESULTS.md (P2PSynCodec, 0.5 kbps); where"
        echo "P2PSynCodec was decoded in the same experiment dir (${expdir}), its systems are in these tables too."
        for set in ${test_sets}; do
            echo
            python -m espnet2_p2p.bin.results_table --decode_dir "${expdir}/decode_secousti_${set}" \
                --scores_dir "${expdir}/scores_secousti_${set}" --title "${set}" \
                --output "${expdir}/table_secousti_${set}.md" >/dev/null
            cat "${expdir}/table_secousti_${set}.md"
            echo; echo "Spectrograms: ${expdir}/scores_secousti_${set}/spectrograms.png"
        done
        echo; sed 's/^# /## /' "${expdir}/token_probe.md"
    } > RESULTS_secousti.md
    log "results: $(pwd)/RESULTS_secousti.md"
elif in_range 6; then
    {
        echo "# speechocean762: P2PSynCodec at 0.5 kbps on real speech"
        echo
        echo "Produced by egs2/speechocean762/codec1/run.sh (stages 5-6). test: 25 unseen speakers"
        echo "of speechocean762; real_speech: 20 LibriTTS/VCTK clips (out of domain), coded at"
        echo "16 kHz and scored at 16 kHz. Baselines at 0.5 kbps: single_vq (one VQ trained"
        echo "alone) and plain_only (the teacher's plain stream alone); plain_only_ft and"
        echo "single_vq_ft: each trained ${ft_epochs} more epochs as a 0.5 kbps codec, the extra"
        echo "training student_ft had (its decoder, ${ft_epochs} epochs). n1_*/n5_*: the N ablation"
        echo "with a shorter budget (teachers ${ablation_epochs} epochs, students ${ablation_student_epochs})."
        [ "${causal}" = true ] && echo "*_causal: the causal variant (streams exactly), trained as the non-causal systems were."
        echo "codec2_700C and codec2_450, where local/baselines.sh --expdir ${expdir} has scored them: Debian's"
        echo "codec2 at 0.7 and 0.45 kbps (8 kHz), on the same utterances, scored the same way."
        for set in ${test_sets}; do
            echo
            # the DSP baselines, when local/baselines.sh --expdir ${expdir} has scored them
            dsp=(); dsp_pairs=
            if [ -s "${expdir}/scores_baselines_${set}/scores.tsv" ]; then
                dsp=(--extra_scores "${expdir}/scores_baselines_${set}" --extra_systems codec2_700C=0.7,codec2_450=0.45)
                dsp_pairs=,student_ft-codec2_700C,student_ft-codec2_450
            fi
            python -m espnet2_p2p.bin.results_table --decode_dir "${expdir}/decode_${set}" \
                --scores_dir "${expdir}/scores_${set}" --baselines single_vq,plain_only \
                --students "${students}" --teacher teacher --pairs "${pairs}${dsp_pairs}" "${dsp[@]}" \
                --title "${set}" --output "${expdir}/table_${set}.md" >/dev/null
            cat "${expdir}/table_${set}.md"
            echo; echo "Spectrograms: ${expdir}/scores_${set}/spectrograms.png; listening page:" \
                "${expdir}/scores_${set}/listening.html"
        done
    } > RESULTS.md
    log "results: $(pwd)/RESULTS.md"
fi
if in_range 7 || in_range 8; then
    # tokens and the packed model of the student that ships: student_ft (EXPDIR/p2psyn_ft_packed.zip)
    # or, with --ship student, the student before decoder fine-tuning (EXPDIR/p2psyn_packed.zip);
    # --codec secousti: SecoustiCodec's (EXPDIR/secousti_packed.zip)
    codec --stage $(( stage > 7 ? stage : 7 )) --stop_stage "${stop_stage}" --test_sets test "${pack_opts[@]}"
fi
