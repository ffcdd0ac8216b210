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
#   8  packing: a zip with configs and checkpoints that GANCodecTask.build_model_from_file loads,
#      and (--entropy true) each model's entropy-coding prior, fitted on the train tokens
#
# Training runs on CPU (--ngpu 0), one GPU (--ngpu 1), N GPUs (--ngpu N, torchrun),
# N CPU processes (--cpu_procs N, gloo), or several nodes (--num_nodes M --launcher slurm:
# srun starts one torchrun per node). Training stages resume from checkpoint.pth when
# re-run; finished stages 1, 2, 7 and 8 are skipped unless --force true; stages 5 and 6
# redo only the systems whose model, config or data changed (--force true: all).
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
valid_utts=             # validate the trainings on N utterances of valid_set spread through it (empty: all;
                        #   validation runs every epoch and only picks the best checkpoint)
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
entropy=true            # stage 8: fit an entropy-coding prior per model and pack it (format 3 files)
prior_max_seconds=      # stage 8: code at most this much training audio for a prior (empty: all)
force=false
codec=p2psyn            # p2psyn (teacher + student) or secousti (one model, stages 2, 3, 5-8)
text_unit=phoneme       # secousti: text units of the contrastive term: phoneme (espeak-ng), bpe, char
text_norm=none          # secousti: none, or lower: transcripts lowercased before the text units (espeak-ng
                        #   spells short all-caps words letter by letter: IT as the letters I, T)
secousti_ablation=false # secousti: also train without the contrastive term; speaker probe in stage 6

usage() { usage_header; echo; echo "Options (default):"; \
    sed -n '/^# -* options/,/^# -* end of options/p' "$0" | grep -E '^[a-z_]+=' \
    | sed -E 's/^([a-z_]+)=([^ ]*) *#? *(.*)/  --\1 (\2)  \3/'; }
# ----------------------------------------------------------- end of options

# shellcheck source=lib/local.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/local.sh"  # log, die, in_stage, parse_options
parse_options codec.sh "$@"

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib
# shellcheck source=lib/common.sh
. "${lib}/common.sh"  # training and the shared stages
case "${codec}" in p2psyn|secousti) ;; *) die "--codec must be p2psyn or secousti, got ${codec}" ;; esac
# shellcheck source=lib/p2psyn.sh
. "${lib}/${codec}.sh"  # the codec's own stage blocks (codec_stageN) and paths
redo=; [ "${force}" = true ] && redo=--force  # stages 5-6 redo systems done before

if in_stage 1; then stage_data; fi
if in_stage 2; then stage_format; codec_stage2; fi
if in_stage 3; then codec_stage3; fi
if in_stage 4; then codec_stage4; fi
if in_stage 5; then stage_decode; fi
if in_stage 6; then stage_score; codec_stage6; write_results; fi
if in_stage 7; then codec_stage7; fi
if in_stage 8; then codec_stage8; fi

if [ -f "${results}" ]; then
    log "finished stages ${stage}-${stop_stage}; results: $(cd "$(dirname "${results}")" && pwd)/$(basename "${results}")"
else
    log "finished stages ${stage}-${stop_stage}"
fi
