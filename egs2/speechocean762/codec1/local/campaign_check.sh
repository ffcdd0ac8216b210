#!/usr/bin/env bash
# A look at the quality campaign's trainings while they run (issue 27): the best checkpoint
# of each training so far (copied first, so a running training may replace its own) decodes
# every --every-th utterance of dump/--set, and espnet2_p2p.bin.score scores them: ViSQOL,
# STOI, PESQ-wb, speaker similarity, and DNSMOS on every 2nd of those. Systems, when their
# experiment exists:
#   teacher      all 1 + N streams (2 kbps)       plain_only  its plain stream alone (0.5 kbps)
#   single_vq    the single-VQ control            student     pseudo streams predicted
#   student_ft   the student, decoder fine-tuned  plain_only_ft, single_vq_ft  its controls
#
#   local/campaign_check.sh [--expdir DIR] [--output_dir DIR] [--set test] [--every 10]
#                           [--reference teacher] [--exclude teacher_single,...]
# The paired differences in the summary are to --reference (one of the systems above);
# --exclude leaves out trainings (their experiment names), e.g. one that has just started.
#
# Writes OUTPUT_DIR/checkpoints (the copies, and epochs.md: which epoch each is from),
# OUTPUT_DIR/decode and OUTPUT_DIR/score (RESULTS.md: the table, and paired differences to
# the teacher). About 10 minutes of one core for 50 utterances.
set -euo pipefail
cd "$(dirname "$0")/.."

expdir=exp
output_dir=""
set=test
every=10
reference=teacher
exclude=
# shellcheck source=../../../TEMPLATE/codec1/lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh
parse_options campaign_check.sh "$@"
output_dir=${output_dir:-${expdir}/campaign_check_$(date '+%Y%m%d_%H%M')}
scp=dump/${set}/wav.scp
need_dump "dump/${set}"
[ -f "${expdir}/teacher/valid.mel_l1_loss.best.pth" ] || die "${expdir}/teacher has no best checkpoint yet"
[[ "${every}" =~ ^[1-9][0-9]*$ ]] || { echo "campaign_check.sh: --every must be a positive integer" >&2; exit 2; }

# best_epoch TRAIN_LOG CRITERION: the epoch whose checkpoint is <exp>/valid.CRITERION.best.pth
best_epoch() {
    awk -v crit="valid.$2" '/[0-9]+epoch results/ { match($0, /[0-9]+epoch results/); e = substr($0, RSTART, RLENGTH - 13) }
        /The best model has been updated/ && index($0, crit) { best = e } END { print best }' "$1"
}

ckpt=${output_dir}/checkpoints
mkdir -p "${ckpt}" "${output_dir}/data"
awk -v k="${every}" 'NR % k == 1 || k == 1' "${scp}" > "${output_dir}/data/wav.scp"
{
    echo "| training | checkpoint | epoch | copied |"
    echo "|---|---|---|---|"
} > "${ckpt}/epochs.md"
systems=()
for entry in teacher:mel_l1_loss teacher_single:mel_l1_loss student:ce_loss student_ft:mel_l1_loss \
        teacher_plain_ft:mel_l1_loss teacher_single_ft:mel_l1_loss; do
    name=${entry%%:*} crit=${entry#*:}
    [[ ",${exclude}," == *",${name},"* ]] && continue
    src=${expdir}/${name}/valid.${crit}.best.pth
    [ -f "${src}" ] || continue
    mkdir -p "${ckpt}/${name}"
    cp "${src}" "${ckpt}/${name}/model.pth"
    cp "${expdir}/${name}/config.yaml" "${ckpt}/${name}/config.yaml"
    if [ -f "${expdir}/${name}/train.log" ]; then
        epoch=$(best_epoch "${expdir}/${name}/train.log" "${crit}")
    else
        epoch="restored from $(cat "${expdir}/${name}/packed_from" 2>/dev/null || echo '?')"
    fi
    echo "| ${name} | valid.${crit}.best.pth | ${epoch} | $(date '+%Y-%m-%d %H:%M') |" >> "${ckpt}/epochs.md"
    files=${ckpt}/${name}/config.yaml:${ckpt}/${name}/model.pth
    case ${name} in
        teacher) systems+=(--system "teacher:${files}" --system "plain_only:${files}:streams=1") ;;
        teacher_single) systems+=(--system "single_vq:${files}") ;;
        student) systems+=(--system "student:${files}") ;;
        student_ft) systems+=(--system "student_ft:${files}") ;;
        teacher_plain_ft) systems+=(--system "plain_only_ft:${files}") ;;
        teacher_single_ft) systems+=(--system "single_vq_ft:${files}") ;;
    esac
done
log "decoding $(wc -l < "${output_dir}/data/wav.scp") utterances of ${set} -> ${output_dir}/decode"
python -m espnet2_p2p.bin.decode --data_dir "${output_dir}/data" --output_dir "${output_dir}/decode" "${systems[@]}"
[ -d "${output_dir}/decode/${reference}" ] || die "--reference ${reference} was not decoded (its experiment is missing)"
hyps=(--hyp "${reference}=${output_dir}/decode/${reference}")  # first: the paired differences are to it
for s in teacher plain_only single_vq student student_ft plain_only_ft single_vq_ft; do
    [ "${s}" != "${reference}" ] && [ -d "${output_dir}/decode/${s}" ] && hyps+=(--hyp "${s}=${output_dir}/decode/${s}")
done
log "scoring -> ${output_dir}/score/RESULTS.md"
python -m espnet2_p2p.bin.score --ref "${output_dir}/data/wav.scp" --fs 16000 "${hyps[@]}" \
    --metrics visqol,stoi,pesq_wb,dnsmos,speaker_sim --every dnsmos:2 --output_dir "${output_dir}/score" > /dev/null
cat "${ckpt}/epochs.md"
echo
sed -n "/^## Summary/,/^## ${reference}\$/p" "${output_dir}/score/RESULTS.md" | sed '$d'
