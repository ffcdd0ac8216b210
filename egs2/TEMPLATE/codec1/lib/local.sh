# shellcheck shell=bash
# Helpers shared by codec.sh (through lib/common.sh) and the recipes' local/ scripts.

# parse_options SCRIPT_NAME "$@": every "--name value" pair sets the caller's variable
# "name", which the script must have set before (its default). An unknown name, a name
# that is not lower_case, or a missing value stops the script with one line.
parse_options() {
    local script=$1 name
    shift
    while [ $# -gt 0 ]; do
        name=${1#--}
        if [ "${name}" = "$1" ] || [[ ! "${name}" =~ ^[a-z][a-z0-9_]*$ ]] || ! declare -p "${name}" > /dev/null 2>&1; then
            echo "${script}: unknown option $1" >&2
            exit 2
        fi
        [ $# -ge 2 ] || { echo "${script}: $1 needs a value" >&2; exit 2; }
        printf -v "${name}" '%s' "$2"
        shift 2
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
