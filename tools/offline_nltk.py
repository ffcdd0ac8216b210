"""Quiet an offline import of ESPnet.

espnet imports g2p_en, which calls ``nltk.download`` at import time when two NLTK
resources are missing; offline that prints a screenful of connection errors on every
start. We never use g2p_en, so empty (valid) zip files in the virtual environment's
own NLTK search path (``sys.prefix/nltk_data``) satisfy the check. Real NLTK data, if
a user installs it elsewhere on the path, is found first and is not touched.
"""

import os
import sys
import zipfile

RESOURCES = ["taggers/averaged_perceptron_tagger_eng.zip", "corpora/cmudict.zip"]


def main() -> None:
    root = os.path.join(sys.prefix, "nltk_data")
    for resource in RESOURCES:
        path = os.path.join(root, resource)
        if os.path.exists(path):
            continue
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with zipfile.ZipFile(path, "w"):
            pass
        print(f"wrote empty NLTK placeholder {path}")


if __name__ == "__main__":
    main()
