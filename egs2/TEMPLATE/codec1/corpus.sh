# shellcheck shell=bash disable=SC2154  # the settings are the sourcing run.sh's
# The driver of a corpus recipe: egs2/<corpus>/codec1/run.sh sets its corpus' settings,
# then sources this file, which runs codec.sh on train, dev and test with them, then with
# the options given to run.sh (any option of codec.sh; ./run.sh --help lists them).
# Settings (the run.sh's variables):
#   corpus        codec.sh --corpus (how espnet2_p2p.data.prepare reads it)
#   corpus_dir    where it lies (optional: else --corpus_dir given to run.sh)
#   expect_fs     the corpus' sampling rate (files at another are refused); fs: the codec's
#   budget        P2PSynCodec's configs: conf/teacher_BUDGET.yaml and conf/student_BUDGET.yaml
#                 (empty: conf/teacher.yaml and conf/student.yaml)
#   codecs        the codecs run one after the other (default: p2psyn); --codec given to
#                 run.sh runs that one alone
#   p2psyn_options, secousti_options
#                 more codec.sh options for each codec (arrays; SecoustiCodec's name its
#                 --train_config)
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=lib/local.sh
. ../../TEMPLATE/codec1/lib/local.sh  # usage_header

for arg in "$@"; do
    case "${arg}" in -h|--help) usage_header; echo; exec ../../TEMPLATE/codec1/codec.sh --help ;; esac
done
given=
for arg in "$@"; do  # the codec of a --codec NAME or --codec=NAME among the options
    case "${given}:${arg}" in
        next:*) given=${arg} ;;
        *:--codec) given=next ;;
        *:--codec=*) given=${arg#--codec=} ;;
    esac
done
codecs=${given:-${codecs:-p2psyn}}
[ -n "${corpus_dir:-}" ] && set -- --corpus_dir "${corpus_dir}" "$@"  # run.sh's --corpus_dir comes later: it wins

conf=../../../conf
for codec in ${codecs}; do
    case "${codec}" in
        secousti) options=(${secousti_options[@]+"${secousti_options[@]}"}) ;;
        # any other name goes to codec.sh with P2PSynCodec's settings; codec.sh refuses it
        *) options=(--train_config "${conf}/teacher${budget:+_${budget}}.yaml"
                    --student_config "${conf}/student${budget:+_${budget}}.yaml"
                    ${p2psyn_options[@]+"${p2psyn_options[@]}"}) ;;
    esac
    ../../TEMPLATE/codec1/codec.sh --corpus "${corpus}" --expect_fs "${expect_fs}" --fs "${fs}" \
        --train_set train --valid_set dev --test_sets test --codec "${codec}" \
        ${options[@]+"${options[@]}"} "$@"
done
