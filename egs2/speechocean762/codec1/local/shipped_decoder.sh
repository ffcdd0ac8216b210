# shellcheck shell=bash
# What local/decoder_screen.sh and local/decoder_campaign.sh share, sourced after their
# options (expdir, zip): trainings of the shipped student's decoder side (codec.sh's stage 4
# with the long budget), started from --zip, on one thread, scored on dev.

need_dump dump/dev
[ -f "${zip}" ] || die "${zip} does not exist"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "${expdir}"
expdir=$(cd "${expdir}" && pwd)
codec() { budget_codec speechocean762 long "$@"; }

# init_from_zip NAME CONFIG OUTPUT [init_model option ...]: the zip's model NAME (student or
# teacher) as CONFIG's model in OUTPUT; a linear decoder's upsampler starts afresh,
# everything else is the zip's
init_from_zip() {
    local name=$1 config=$2 output=$3 new=()
    shift 3
    if [ "$(python -m espnet2_p2p.utils.config "${config}" codec_conf.decoder_upsample)" = linear ]; then
        new=(--new codec.generator.decoder.upsample --new codec.generator.decoder.project)
    fi
    python -m espnet2_p2p.bin.init_model --packed "${zip}" --name "${name}" --config "${config}" \
        --output "${output}" "${new[@]}" "$@"
}
