# make demo   set up, code an utterance with the shipped model, then run the main job
#             (the mini_espeak recipe for P2PSynCodec on CPU, about 20 minutes)
# make demo-full  the same recipe for both codecs (P2PSynCodec and SecoustiCodec, about an hour)
# make test   set up, then run the test suite (slow tests excluded; make test-slow runs them)
# make lint   check the code's style (ruff.toml: ruff's formatter and linter); CI runs it
#             before the tests. make format applies the formatter and the linter's fixes.
# make test-counts  the number of tests per folder (pytest's collection), also written into
#             docs/testing.md
# make wheel  dist/espnet2_p2p-*.whl: the package with the shipped model, the training configs
#             and the p2p-codec command, for `pip install` outside this checkout
# make bench  set up with the benchmark extras, then write benchmarks/RESULTS.md and
#             RESULTS_cpu_limit.md and check the low-complexity budget (about 35 minutes)
# make results  regenerate every RESULTS file that describes the shipped model, with it
#             (benchmarks/results.py; SO762_TEST=dir adds the speechocean762 test set)

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: setup apt-deps demo demo-full test test-slow lint format test-counts wheel bench results clean

setup: apt-deps $(STAMP)

# System tools: espeak-ng (synthetic speech), sox, codec2 (c2enc/c2dec: the DSP baseline
# of egs2/speechocean762/codec1/local/baselines.sh) and chromium (the test that loads the
# scorer's listening page in a browser). Installed only when missing.
apt-deps:
	@if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null || ! command -v c2enc >/dev/null \
		|| ! command -v chromium >/dev/null; then \
		echo "installing espeak-ng, sox, codec2 and chromium with apt-get"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq espeak-ng sox codec2 chromium >/dev/null; \
	fi

# The virtual environment is rebuilt only when setup.py changes.
$(STAMP): setup.py
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q pip==25.3
	$(VPY) -m pip install -q -e '.[test]'
	$(VPY) tools/offline_nltk.py
	@touch $(STAMP)

demo: setup
	$(VPY) -m espnet2_p2p.bin.demo --output_dir egs2/mini_espeak/codec1/exp/shipped_model_demo
	cd egs2/mini_espeak/codec1 && PATH=$(CURDIR)/$(VENV)/bin:$$PATH ./run.sh --codec p2psyn

demo-full: setup
	$(VPY) -m espnet2_p2p.bin.demo --output_dir egs2/mini_espeak/codec1/exp/shipped_model_demo
	cd egs2/mini_espeak/codec1 && PATH=$(CURDIR)/$(VENV)/bin:$$PATH ./run.sh

# the test files share out over the cores (pytest-xdist; a file's tests run in one process,
# so its module fixtures are built once)
XDIST = -n auto --dist loadfile

test: setup
	$(VPY) -m pytest -q -m "not slow" $(XDIST) --durations=25 $(PYTEST_ARGS) tests

test-slow: setup
	$(VPY) -m pytest -q -m slow $(XDIST) $(PYTEST_ARGS) tests

lint: setup
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

format: setup
	$(VPY) -m ruff check --fix .
	$(VPY) -m ruff format .

test-counts: setup
	$(VPY) tools/test_counts.py --write docs/testing.md

# pip builds it with setuptools in a build environment of its own (from the package index);
# the test that installs it into a fresh virtual environment: tests/test_wheel.py (slow)
WHEEL_DIR ?= dist
wheel:
	@test -x $(VPY) || $(MAKE) setup
	rm -rf build
	$(VPY) -m pip wheel -q --no-deps -w $(WHEEL_DIR) .
	@ls $(WHEEL_DIR)/espnet2_p2p-*.whl

# the codecs compared (DAC, EnCodec, SNAC) come from packages the tests do not need
bench: setup
	$(VPY) -m pip install -q -e '.[bench]'
	$(VPY) -m benchmarks.codec_speed --only size,rtf,memory,scaling
	$(VPY) -m benchmarks.cpu_limit --paper
	$(VPY) -m benchmarks.low_complexity
	$(VPY) -m benchmarks.onnx_int8
	$(VPY) -m benchmarks.chunk_plan --plans 30:2,10:0.5,9.6:0.2
	$(VPY) -m benchmarks.ort_profile --model paper

# each file's first line names the model and its SHA-256 (tests/test_results_provenance.py);
# SO762_TEST: the speechocean762 recipe's test set (run.sh --stop_stage 2), used where present
SO762_TEST ?= egs2/speechocean762/codec1/dump/test
results: setup
	$(VPY) -m benchmarks.results --test_data $(SO762_TEST)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache build dist
