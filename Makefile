# make test: build .venv from nothing and run the whole suite. make run: serve the UI and API locally.
# make train / train-stop / train-status: the long training run in the background; make ship: release it if it is better.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test run bench train train-stop train-status ship clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# exactly this torch: pip takes the CPU build from local disk; looser specs pull a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[model,cpu,dev]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

run: $(STAMP)
	@$(BIN)/python -m service.launch

bench: $(STAMP)
	$(BIN)/python -m bench

train: $(STAMP)
	$(BIN)/python -m model.training.longrun start

train-stop: $(STAMP)
	$(BIN)/python -m model.training.longrun stop

train-status: $(STAMP)
	$(BIN)/python -m model.training.longrun status

ship: $(STAMP)
	$(BIN)/python -m pipelines.ship

clean:
	rm -rf $(VENV) .pytest_cache
