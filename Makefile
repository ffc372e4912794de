# The two commands a fresh clone needs (see README):
#   make demo   set everything up, train a small model and run the local end-to-end demo
#   make test   set everything up and run every check CI runs
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYENV_ROOT ?= $(HOME)/.pyenv
PYTHON311 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.11.7/bin/python3.11) $(shell command -v python3.11))
PYTHON313 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.13.0/bin/python3.13) $(shell command -v python3.13))
# sam build looks for the runtime's interpreter (python3.13) on PATH.
export PYENV_VERSION ?= 3.11.7:3.12.1:3.13.0

VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
FN_VENV := .venv-fn313
OPS_VENV := .venv-ops
ARTIFACTS ?= artifacts

.PHONY: help setup espeak demo test test-fast lint unit integration functions-py313 sam-check ops-venv ops-test \
        deploy-check deploy-smoke data train package serve invoke stack-up stack-down train-sagemaker batch loop bench bench-asr bench-chaos live bench-live fmt clean

help: ## list every target (a test checks that none is missing here)
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# Each install says what it installs and roughly how long it takes: pip itself stays quiet (-q).
# --no-compile: pip byte-compiles one file at a time (torch alone has thousands), about half of the
# install. COMPILE does it afterwards on every core instead (about 30 s on 2 cores): where
# PYTHONDONTWRITEBYTECODE is set (as on our CI machines) nothing imported is ever cached, and each
# process (training, the model server, every function environment, moto) compiled its imports
# again: 7.7 s of a 53 s training run. A file that does not compile (some packages ship templates
# named .py) makes compileall exit 1; those files are never imported, hence the `|| true`.
PIP_INSTALL := -m pip install -q --no-compile
COMPILE = PYTHONDONTWRITEBYTECODE= $(1)/bin/python -m compileall -q -j 0 \
  "$$($(1)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" $(2) > /dev/null || true
$(VENV)/.installed: pyproject.toml
	@echo "setup: creating $(VENV) (Python 3.11) and installing the project with the model, local and dev extras"
	@echo "setup:   torch (CPU), scikit-learn, sentence-transformers, moto, pocketsphinx, ruff, pytest: about 1 minute from pip's cache"
	$(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) $(PIP_INSTALL) -e '.[model,local,dev]'
	@echo "setup: byte-compiling $(VENV)'s packages and the project's code on every core: about 30 s"
	$(call COMPILE,$(VENV),contracts functions local model ops)
	@echo "setup: $(VENV) ready ($$(du -sh $(VENV) | cut -f1))"
	@touch $@

$(FN_VENV)/.installed: pyproject.toml
	@echo "setup: creating $(FN_VENV) (Python 3.13, the Lambdas' runtime) with the functions-test extra (Powertools, boto3, moto, pytest)"
	$(PYTHON313) -m venv $(FN_VENV)
	$(FN_VENV)/bin/python -m pip install -q --upgrade pip
	$(FN_VENV)/bin/python $(PIP_INSTALL) -e '.[functions-test]'
	$(call COMPILE,$(FN_VENV),contracts functions)
	@touch $@

$(SAM_VENV)/.installed:
	@echo "setup: creating $(SAM_VENV) with aws-sam-cli 1.170.0 (it pins its own boto3): about 1 minute"
	$(PYTHON311) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python $(PIP_INSTALL) 'aws-sam-cli==1.170.0'
	@touch $@

espeak: ## install espeak-ng from Debian (the demo's synthesised calls) unless present
	@command -v espeak-ng >/dev/null || { echo "setup: installing espeak-ng (apt-get)"; \
	  apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; }

setup: $(VENV)/.installed espeak ## install the development environment

demo: setup ## the main job: the whole pipeline on this machine, no AWS account
	$(PY) -m churn_local.demo $(DEMO_ARGS)

test: lint unit integration functions-py313 ops-test sam-check ## every check CI runs

# The developer loop: contracts, functions and serving handlers, no slow (encoder, training) tests.
test-fast: setup ## the fast subset: contracts, functions, serving handlers, not slow (about 1 min of CPU)
	$(PY) -m pytest tests/unit/contracts tests/unit/functions tests/unit/outcomes tests/unit/serving/test_serving_handlers.py \
	  -q -m "not slow" -p no:cacheprovider

lint: setup ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: setup ## pytest tests/unit
	$(PY) -m pytest tests/unit -q

integration: setup ## pytest tests/integration (the local stack end to end)
	$(PY) -m pytest tests/integration -q

functions-py313: $(FN_VENV)/.installed ## the Lambdas' unit tests on their runtime, Python 3.13
	$(FN_VENV)/bin/python -m pytest tests/unit/contracts tests/unit/functions tests/unit/outcomes -q \
	  --ignore=tests/unit/outcomes/test_promote.py

sam-check: $(SAM_VENV)/.installed ## sam validate --lint and sam build
	$(SAM_VENV)/bin/sam validate --lint
	$(SAM_VENV)/bin/sam build

ops-venv: $(OPS_VENV)/.installed ## build .venv-ops (sagemaker SDK v3 and the project) without testing it

$(OPS_VENV)/.installed: ops/requirements.txt
	@echo "setup: creating $(OPS_VENV) (Python 3.11) from ops/requirements.txt: sagemaker 3.27.0 and its pins, about 1.1 GB, 1.5-3 minutes"
	$(PYTHON311) -m venv $(OPS_VENV)
	$(OPS_VENV)/bin/python -m pip install -q --upgrade pip
	$(OPS_VENV)/bin/python $(PIP_INSTALL) -r ops/requirements.txt
	$(OPS_VENV)/bin/python $(PIP_INSTALL) --no-deps -e .
	@touch $@

ops-test: $(OPS_VENV)/.installed ## the SageMaker launcher's tests, in the ops virtualenv (sagemaker SDK v3)
	$(OPS_VENV)/bin/python -m pytest tests/ops -q

data: setup ## generate the synthetic dataset (ARGS="--rows 50000")
	$(PY) -m churn_model.data.generate --out data $(ARGS)

train: setup ## train on data/ into $(ARTIFACTS)/model with the best flags (ARGS to override)
	$(PY) -m churn_model.train --train data/train.jsonl --test data/test.jsonl --model-dir $(ARTIFACTS)/model \
	  --embedding-cache $(ARTIFACTS)/embedding-cache --best-flags $(ARGS)

package: setup ## build $(ARTIFACTS)/model.tar.gz for a SageMaker endpoint (VENDOR=1: ship the wheels, for endpoints without internet)
	$(PY) -m churn_model.serving.package --model-dir $(ARTIFACTS)/model --out $(ARTIFACTS)/model.tar.gz $(if $(VENDOR),--vendor-wheels)

serve: setup ## serve $(ARTIFACTS)/model on 127.0.0.1:8080 (SageMaker container + Runtime API)
	$(PY) -m churn_model.serving.server --model $(ARTIFACTS)/model $(ARGS)

# The functions run on their runtime, Python 3.13, from $(FN_VENV) (see events/README.md).
invoke: setup $(FN_VENV)/.installed ## run the function an event goes to, once, on the local stack: EVENT=events/... [FUNCTION=...]
	$(PY) -m churn_local.invoke $(or $(FUNCTION),-) $(EVENT) $(INVOKE_ARGS)

# Without a model every score fails ("endpoint response is not JSON", the API's 502): say what to
# run first instead of starting a stack that cannot score (STACK_ARGS="--model DIR" names another).
stack-up: setup ## start the local stack in the background (needs a trained $(ARTIFACTS)/model)
	@if [ ! -f "$(ARTIFACTS)/model/model.joblib" ] && [ -z "$(findstring --model,$(STACK_ARGS))" ]; then \
	  echo "stack-up: no trained model in $(ARTIFACTS)/model: run 'make data' and 'make train' first (make demo trains a small one), or pass STACK_ARGS=\"--model DIR\"" >&2; \
	  exit 2; fi
	$(PY) -m churn_local.stack up $(STACK_ARGS)

stack-down: setup ## stop the local stack
	$(PY) -m churn_local.stack down

deploy-check: $(OPS_VENV)/.installed ## samconfig.toml's parameters against the template's rules (CONFIG_ENV=prod, ARGS="--parameter-overrides N=V")
	$(OPS_VENV)/bin/python -m churn_ops.stack check --config-env $(or $(CONFIG_ENV),default) $(ARGS)

# Not run in CI: it deploys to the account of your credentials (ops/README.md, "Smoke deploy").
deploy-smoke: $(OPS_VENV)/.installed $(SAM_VENV)/.installed ## one real call through a fresh serverless stack, each hop timed, then torn down: STACK=name ARGS="--model-data-url s3://... --recording call.wav"
	@test -n "$(STACK)" || { echo "deploy-smoke: STACK=<a stack name of its own> is required (it is deleted at the end)" >&2; exit 2; }
	$(OPS_VENV)/bin/python -m churn_ops.smoke_deploy --stack $(STACK) $(ARGS)

train-sagemaker: $(OPS_VENV)/.installed ## launch a SageMaker training job (ARGS="--role ... --bucket ...")
	$(OPS_VENV)/bin/python -m churn_ops.training_job $(ARGS)

batch: setup ## rescore every customer of the running local stack: export -> bulk score (explained) -> report in $(ARTIFACTS)/batch, compared with the last run (EXPORT_ARGS, ARGS="--rank value")
	$(PY) -m churn_ops.export_latest_calls --output $(ARTIFACTS)/batch/customers.jsonl $(EXPORT_ARGS)
	$(PY) -m churn_model.batch --model $(ARTIFACTS)/model --input $(ARTIFACTS)/batch/customers.jsonl \
	  --output $(ARTIFACTS)/batch/scores.jsonl --report-dir $(ARTIFACTS)/batch/report --rotate $(ARGS)

# Outcomes close the loop (issue 21): its own stack, data and models under .local-stack/loop.
loop: setup $(FN_VENV)/.installed ## outcomes -> training data from the stack -> candidate vs serving (paired bootstrap) -> registry -> the local endpoint swaps models (ARGS="--calls 300")
	HF_HUB_OFFLINE=1 $(PY) -m churn_local.loop $(ARGS)

bench: setup ## the benchmarks (print figures; needs a trained $(ARTIFACTS)/model)
	$(PY) model/benchmarks/bench_encoder.py
	$(PY) model/benchmarks/bench_serving.py --model $(ARTIFACTS)/model
	$(PY) local/benchmarks/bench_pipeline.py
	$(PY) local/benchmarks/bench_api.py --model $(ARTIFACTS)/model

bench-asr: setup espeak ## WER and real-time factor of the local speech recognition
	$(PY) local/benchmarks/bench_asr.py --calls 3 --max-seconds 60

bench-chaos: setup $(FN_VENV)/.installed ## exactly one alert per call under injected faults: CALLS=1000 calls on the local stack
	HF_HUB_OFFLINE=1 $(PY) local/benchmarks/bench_chaos.py --calls $(or $(CALLS),1000)

live: setup ## a call scored while it happens: Contact Lens segments -> live function -> agent WebSocket (needs $(ARTIFACTS)/model; ARGS=--speed 4)
	HF_HUB_OFFLINE=1 $(PY) -m churn_local.live --model-dir $(ARTIFACTS)/model $(ARGS)

bench-live: setup ## live path: segment in -> agent message out p50/p99, then CALLS calls for MINUTES (needs $(ARTIFACTS)/model)
	HF_HUB_OFFLINE=1 $(PY) -m churn_local.live.bench --model-dir $(ARTIFACTS)/model --calls $(or $(CALLS),100) --minutes $(or $(MINUTES),2)

fmt: setup ## ruff check --fix and ruff format, on the whole repo
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean: ## remove build outputs (.aws-sam, build, .pytest_cache)
	rm -rf .aws-sam build .pytest_cache
