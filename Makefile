# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test venv train train-venv clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-deps -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/patrol config check configs/quzhou.yaml
	$(VENV)/bin/patrol demo

test: $(STAMP)
	$(PY) -m pytest

# Training needs torch + Ultralytics: a venv of its own (large; not needed to run patrol). The
# tests of `patrol train` / the analyst loop use it and skip without it; .ci/run builds it.
# torch/torchvision are pinned to builds on this machine's disk (why: requirements-train.txt).
TRAIN_VENV := .venv-train
$(TRAIN_VENV)/.installed-stamp: requirements-train.txt requirements.lock
	$(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install -q -r requirements-train.txt
	$(TRAIN_VENV)/bin/pip install -q --no-deps -r requirements.lock
	$(TRAIN_VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $@

train-venv: $(TRAIN_VENV)/.installed-stamp

train: $(TRAIN_VENV)/.installed-stamp
	$(TRAIN_VENV)/bin/python scripts/train_detector.py --minutes 45

clean:
	rm -rf $(VENV) out
