# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test venv train clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-deps -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/patrol config check configs/quzhou.yaml
	$(VENV)/bin/patrol config map configs/quzhou.yaml -o out/quzhou_map.html

test: $(STAMP)
	$(PY) -m pytest

# Training the shipped detector model needs torch + Ultralytics (large; not needed to run or test).
train: $(STAMP)
	$(PY) -m pip install -q -r requirements-train.txt
	$(PY) scripts/train_detector.py

clean:
	rm -rf $(VENV) out
