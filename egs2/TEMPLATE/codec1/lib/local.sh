# shellcheck shell=bash
# The recipes' shell library: logging, stage ranges and options, shared by codec.sh, the
# corpus recipes (corpus.sh), speechocean762's run.sh and the recipes' local/ scripts.
# It defines functions only (no variables), so a script may source it before its options.

log() { echo "[$(date '+%H:%M:%S')] $*"; }

# die MESSAGE: "<script>: MESSAGE" on stderr, exit status 1
die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# in_stage N: whether stage N lies in the range --stage .. --stop_stage
in_stage() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }

# need_dump DIR...: each DIR holds a wav.scp (written by stages 1-2), else stop
need_dump() {
    local dir
    for dir in "$@"; do
        [ -s "${dir}/wav.scp" ] || die "${dir}/wav.scp is missing: run stages 1-2"
    done
}

# usage_header: the script's leading comment (up to its "set -euo" line), for --help
usage_header() {
    local self=$0
    [ -r "${self}" ] || self=${OLDPWD:-.}/$0  # the script changed directory after it started
    sed -n '2,/^set -euo/p' "${self}" | grep '^#' | sed 's/^# \{0,1\}//'
}

# parse_options [--rest ARRAY] SCRIPT_NAME "$@": every "--name value" (or "--name=value")
# sets the caller's variable "name", which the script must have set before (its default).
# -h or --help prints the caller's usage function if it has one, else its leading comment.
# An unknown name, a name that is not lower_case, or a missing value stops the script with
# one line (status 2); with --rest, "--name value" pairs of other names are appended to the
# caller's array ARRAY instead (options for the script it calls).
parse_options() {
    local _rest='' _script _name _value
    if [ "$1" = --rest ]; then _rest=$2; shift 2; fi
    _script=$1
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
            -h|--help) if declare -F usage > /dev/null; then usage; else usage_header; fi; exit 0 ;;
            --*=*) _name=${1%%=*}; _name=${_name#--}; _value=${1#*=}; shift ;;
            --*) _name=${1#--}
                 [ $# -ge 2 ] || { echo "${_script}: $1 needs a value" >&2; exit 2; }
                 _value=$2; shift 2 ;;
            *) echo "${_script}: unknown option $1" >&2; exit 2 ;;
        esac
        if [[ "${_name}" =~ ^[a-z][a-z0-9_]*$ ]] && declare -p "${_name}" > /dev/null 2>&1; then
            printf -v "${_name}" '%s' "${_value}"
        elif [ -n "${_rest}" ]; then
            eval "${_rest}"'+=("--${_name}" "${_value}")'
        else
            echo "${_script}: unknown option --${_name}" >&2
            exit 2
        fi
    done
}

# lm_train_tokens CONFIG LM_EXP TRAIN_DIR VALID_DIR SHAPE NGPU [ESPnet option ...]: ESPnet's LM
# task on token dumps (lm_text, and lm_token_list in TRAIN_DIR; SHAPE names the shape file
# in both), resuming from LM_EXP's checkpoint; the log is appended to LM_EXP/train.log,
# whose tail is printed if training fails (status 1).
lm_train_tokens() {
    local config=$1 exp=$2 train=$3 valid=$4 shape=$5 ngpu=$6
    shift 6
    mkdir -p "${exp}"
    python -m espnet2.bin.lm_train --config "${config}" --output_dir "${exp}" \
        --token_type word --token_list "${train}/lm_token_list" \
        --train_data_path_and_name_and_type "${train}/lm_text,text,text" \
        --valid_data_path_and_name_and_type "${valid}/lm_text,text,text" \
        --train_shape_file "${train}/${shape}" --valid_shape_file "${valid}/${shape}" \
        --ngpu "${ngpu}" --resume true "$@" >> "${exp}/train.log" 2>&1 \
        || { tail -n 20 "${exp}/train.log"; return 1; }
}

# budget_codec CORPUS BUDGET [codec.sh option ...]: codec.sh for a 16 kHz CORPUS whose recipe
# trains on train and validates on dev, with ../../../conf/{teacher,student}_BUDGET.yaml and
# the caller's ${expdir}; later options override these (the recipes' run.sh and local/).
budget_codec() {
    local corpus=$1 budget=$2
    shift 2
    ../../TEMPLATE/codec1/codec.sh --corpus "${corpus}" --expect_fs 16000 --fs 16000 \
        --train_set train --valid_set dev --expdir "${expdir}" \
        --train_config "../../../conf/teacher_${budget}.yaml" --student_config "../../../conf/student_${budget}.yaml" "$@"
}
