# make all  : set up .venv (if missing), compute every experiment, draw every figure, write REPORT.md
# make test : set up .venv (if missing) and run the test suite (make test-all: also the slow tests)
# make clean: remove generated outputs (figures, caches); `make distclean` also removes .venv
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SETUP  := $(VENV)/.installed

# Expose every CPU core to JAX as a device; training splits its runs over all local devices
# (experiments/training.py:train). On a GPU/TPU host the accelerators are used as they are.
# (Only for the compute stage: the exact evaluator and the tests run faster on one device.)
NPROC     := $(shell nproc 2>/dev/null || echo 1)
DEVICES   ?= --xla_force_host_platform_device_count=$(NPROC)

EXPERIMENTS := fig1_negative_penalty fig2_input_scale depth_penalty negative_weights \
               negative_weights_many_features weight_decay_threshold rescaling_invariance \
               penalty_vs_keep_prob variants_witnesses variants_depth variants_negative_weights \
               variants_matrix practitioner_claims approximations real_input_scale \
               real_label_noise real_cross_entropy real_depth
THEORY  := $(wildcard theory/*.py theory/paper/*.py)
ENGINE  := experiments/common.py experiments/training.py experiments/sgd_kernel.py \
           experiments/initialisation.py \
           experiments/registry.py experiments/__main__.py
RESULTS := $(EXPERIMENTS:%=results/%.json)
FIGURES := $(EXPERIMENTS:%=figures/%.png)

.PHONY: all test test-all bench clean distclean
.DELETE_ON_ERROR:
.PRECIOUS: results/%.json

# The experiments are independent processes: two at a time overlap one's compilation (one core)
# with the other's computation.
all: $(SETUP)
	$(MAKE) -j$(NPROC) figures/REPORT.md

$(SETUP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,torch]'
	touch $@

# Compute stage: results/NAME.json depends on the experiment, the engine and theory/.
results/%.json: experiments/%.py $(ENGINE) $(THEORY) | $(SETUP)
	XLA_FLAGS="$(DEVICES) $(XLA_FLAGS)" $(PY) -m experiments $* --stage compute

# Results that also depend on shared study code (each module's SOURCES) or on other results (the
# INPUTS of variants_matrix and approximations): prerequisites only, the recipe is the rule above.
results/variants_witnesses.json: experiments/variants.py experiments/penalty_vs_keep_prob.py
results/variants_depth.json: experiments/variants.py
results/variants_negative_weights.json: experiments/variants.py experiments/negative_weights.py
results/variants_matrix.json: experiments/variants.py experiments/variants_witnesses.py \
    experiments/variants_depth.py experiments/variants_negative_weights.py \
    experiments/penalty_vs_keep_prob.py experiments/negative_weights.py \
    results/variants_witnesses.json results/variants_depth.json \
    results/variants_negative_weights.json
results/practitioner_claims.json: experiments/fig2_input_scale.py experiments/variants.py
results/approximations.json: experiments/variants.py results/practitioner_claims.json
results/real_input_scale.json results/real_label_noise.json results/real_cross_entropy.json \
    results/real_depth.json: experiments/datasets.py

# Plot stage: figures/NAME.{png,pdf,json} are drawn from the cache only.
figures/%.png: results/%.json experiments/%.py experiments/common.py | $(SETUP)
	$(PY) -m experiments $* --stage plot

figures/REPORT.md: $(FIGURES) experiments/report.py
	$(PY) -m experiments report

# One pytest worker per core; `make test` leaves out the tests marked slow (quick end-to-end runs of
# the SGD experiments, which `make all` runs at full size); `make test-all` runs them too.
PYTEST := $(PY) -m pytest -q -n auto --dist loadgroup

test: $(SETUP)
	$(PYTEST) -m "not slow"

test-all: $(SETUP)
	$(PYTEST)

clean:
	rm -rf results/ figures/*.png figures/*.pdf figures/*.json figures/REPORT.md \
	       .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) *.egg-info

# Benchmarks (not part of `all` or `test`); PyTorch (the optional extra `torch`) comes with set-up.
bench: $(SETUP)
	$(PY) benchmarks/bench.py
