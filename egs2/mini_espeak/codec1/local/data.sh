#!/usr/bin/env bash
# Synthesise the mini_espeak corpus with espeak-ng into corpus/ (once).
set -euo pipefail
if [ -f corpus/.done ]; then
    echo "corpus/ exists, skipping synthesis"
else
    rm -rf corpus
    python -m espnet2_p2p.data.espeak corpus
    touch corpus/.done
fi
