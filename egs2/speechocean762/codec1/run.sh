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
# The training queues of stages 3-4 are in local/queues.sh, the systems of stages 5-6 and
# the tables of RESULTS.md in local/tables.sh.
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
                          #   so stages 3-4 train only what the zip does not hold; --codec secousti: its
                          #   SecoustiCodec becomes EXPDIR/secousti, and stages 5-8 decode, score and pack it
# shellcheck source=../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh  # log, in_stage, parse_options, budget_codec
usage() { usage_header; echo; exec ../../TEMPLATE/codec1/codec.sh --help; }
parse_options --rest passthrough run.sh "$@"  # the other options: codec.sh's

case ${ship} in
    student_ft) pack=(--tag _ft --student_criterion mel_l1_loss) ;;
    student) pack=(--student_criterion ce_loss) ;;
    *) die "--ship is student_ft or student, not '${ship}'" ;;
esac

conf=../../../conf
case ${codec} in
    p2psyn) codec_opts=(); pack_opts=(--teacher_dir "${expdir}/teacher" "${pack[@]}") ;;
    # espeak-ng spells short all-caps words (IT, US) letter by letter: the contrastive term's
    # phonemes come from the lowercased transcripts
    secousti) codec_opts=(--codec secousti --train_config "${conf}/secousti_21hz_${budget}.yaml" --text_norm lower)
              pack_opts=() ;;
    *) die "--codec is p2psyn or secousti, not '${codec}'" ;;
esac
codec() { budget_codec speechocean762 "${budget}" "${passthrough[@]}" --train_args "${train_args}" "${codec_opts[@]}" "$@"; }

test_sets=test
if [ -d "${real_speech_dir}" ]; then test_sets="test real_speech"; fi

if in_stage 1; then
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
if in_stage 2; then
    codec --stage 2 --stop_stage 2 --test_sets "${test_sets}"
fi

if [ "${codec}" = p2psyn ]; then
    # shellcheck source=local/queues.sh
    . local/queues.sh  # queue_a, queue_b, train_queues; ft_epochs (reads conf/student_BUDGET_ft.yaml)
fi
if [ -n "${restore}" ] && { in_stage 3 || in_stage 4; }; then
    # teacher/, and student/ or student_ft/ (a fine-tuned decoder), or secousti/: finished, so
    # the stages skip them (run_train reads packed_from)
    python -m espnet2_p2p.bin.init_model --packed "${restore}" --restore_into "${expdir}"
fi
if [ "${codec}" = secousti ] && { in_stage 3 || in_stage 4; }; then
    log "stages 3-4: SecoustiCodec, one training on one thread (log: ${expdir}/secousti<--tag>/train.log)"
    ( export OMP_NUM_THREADS=1; codec --stage 3 --stop_stage 4 ) || exit 1
elif in_stage 3 || in_stage 4; then
    train_queues
fi

# shellcheck source=local/tables.sh
. local/tables.sh  # systems, results_p2psyn, results_secousti
# stages 5-6 decode and score these systems into EXPDIR/{decode,scores}_SET, or (--codec secousti) the
# SecoustiCodec experiment into EXPDIR/{decode,scores}_secousti_SET (codec.sh's lib/secousti.sh)
if [ "${codec}" = secousti ]; then suffix=_secousti; system_opts=(); else suffix=; system_opts=(--systems "${systems}"); fi
if in_stage 5; then
    # decoding is single-threaded: one process per test set, side by side
    pids=()
    for set in ${test_sets}; do
        ( export OMP_NUM_THREADS=1
          codec --stage 5 --stop_stage 5 --test_sets "${set}" "${system_opts[@]}" > "${expdir}/decode${suffix}_${set}.log" 2>&1 ) &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "${pid}" || { tail -n 5 "${expdir}"/decode"${suffix}"_*.log; exit 1; }; done
fi
if in_stage 6; then
    for set in ${test_sets}; do
        # DNSMOS costs about 2 s an utterance here: on every 10th test utterance (all real clips)
        sparse=(); [ "${set}" = test ] && sparse=(--score_args "--every dnsmos:10")
        codec --stage 6 --stop_stage 6 --test_sets "${set}" "${system_opts[@]}" --score_fs 16000 \
            --score_nj "${jobs}" "${sparse[@]}"
    done
    if [ "${codec}" = secousti ]; then results=RESULTS_secousti.md; else results=RESULTS.md; fi
    "results_${codec}" > "${results}"
    log "results: $(pwd)/${results}"
fi
if in_stage 7 || in_stage 8; then
    # tokens and the packed model of the student that ships: student_ft (EXPDIR/p2psyn_ft_packed.zip)
    # or, with --ship student, the student before decoder fine-tuning (EXPDIR/p2psyn_packed.zip);
    # --codec secousti: SecoustiCodec's (EXPDIR/secousti_packed.zip)
    codec --stage $(( stage > 7 ? stage : 7 )) --stop_stage "${stop_stage}" --test_sets test "${pack_opts[@]}"
fi
