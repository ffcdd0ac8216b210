"""Evaluation: the recipes' decoding of test sets (:mod:`~espnet2_p2p.evaluation.decoding`),
the metrics (:mod:`~espnet2_p2p.evaluation.metrics`), scoring pairs of audio
(:mod:`~espnet2_p2p.evaluation.scoring`), the listening page
(:mod:`~espnet2_p2p.evaluation.listening`) and the ASR probe
(:mod:`~espnet2_p2p.evaluation.asr_probe`)."""
