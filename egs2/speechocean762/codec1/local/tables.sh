# shellcheck shell=bash
# Stages 5-6 of run.sh: the systems the campaign decodes and scores, and the tables of
# RESULTS.md (P2PSynCodec) or RESULTS_secousti.md (--codec secousti), sourced by run.sh (its
# options are set; ft_epochs: the epochs of student_BUDGET_ft).

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
if [ "${ablation}" = true ]; then
    pairs+=,n1_student-n1_plain_only,n5_student-n5_plain_only,n1_student-single_vq,n5_student-single_vq
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

# results_secousti > RESULTS_secousti.md
results_secousti() {
    local set
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
}

# results_p2psyn > RESULTS.md
results_p2psyn() {
    local set dsp dsp_pairs
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
            # shellcheck disable=SC2054  # one option value: NAME=KBPS,NAME=KBPS
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
}
