# make all  : set up .venv (if missing), compute every experiment, draw every figure, write REPORT.md
# make test : set up .venv (if missing) and run the test suite (make test-all: also the slow tests)
# make clean: remove generated outputs (figures, caches); `make distclean` also removes .venv
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SETUP  := $(VENV)/.installed

# Expose every CPU core to JAX as a device; training splits its runs over all local devices
# (sgd/training.py:train). On a GPU/TPU host the accelerators are used as they are.
# (Only for the compute stage: the exact evaluator and the tests run faster on one device.)
NPROC     := $(shell nproc 2>/dev/null || echo 1)
DEVICES   ?= --xla_force_host_platform_device_count=$(NPROC)

# Most programs of an experiment run for milliseconds and take longer to compile than to run: the
# compute stage compiles them at XLA's lowest backend optimisation level with XLA:CPU's older
# elementwise emitters (about a third of the compile time, code about half as fast). The programs
# that run long (the SGD engine, the exact evaluator over many networks, Monte Carlo, Adam on the
# exact criteria) ask for XLA's full optimisation themselves (theory/compile_options.py).
FAST_COMPILE := --xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false

# XLA:CPU splits a program's machine code into modules that threads compile in parallel (by default);
# with an experiment on each core, no core is free for them, and the split is overhead: one module.
# Measured 2026-12-02, one experiment at a time on one core (taskset), A/B/A/B, the same bytes out:
# depth_penalty 65 and 75 s against 81 and 81 s, cnn_batchnorm_order 87 and 88 s against 91 and 100 s.
ONE_CODEGEN_THREAD := --xla_cpu_parallel_codegen_split_count=1

# JAX's persistent compilation cache, in the project (git-ignored .cache/): a rerun of `make all`
# or `make test` loads what an earlier run compiled instead of compiling it again (the tests compile
# at another optimisation level, so their entries are their own). A fresh clone starts empty.
export JAX_COMPILATION_CACHE_DIR := $(CURDIR)/.cache/jax
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS := 0

# The experiments and each result's prerequisites come from the code: the registry lists the
# experiments, and every result depends on the project files its study imports (transitively) and
# the cached results it reads (`python -m experiments --deps`, experiments/dependencies.py).
DEPS    := results/deps.mk
SOURCES := $(shell find theory sgd experiments -name '*.py' 2>/dev/null)
ifeq ($(filter test test-all bench clean distclean,$(MAKECMDGOALS)),)
-include $(DEPS)
endif
# The longest experiments first, so that the jobs, one per core, finish together instead of one
# core running a long one alone at the end (a greedy longest-first schedule; the rest in the
# registry's order). Seconds of computing in a cold make all on a fresh clone on this 2-core
# machine (AMD EPYC, AVX-512), the last of three after the SGD engine's tiles of 32 on 2026-12-02
# (single studies vary by up to 30% between runs): practitioner_claims 114,
# cnn_dropout_between_convs 60, cnn_batchnorm_order 60, rate_choice 50, depth_penalty 46,
# fig2_input_scale 35, real_depth 29, underfitting_vs_keep 27, real_label_noise 25,
# variants_negative_weights 23, mc_dropout_samples 23, negative_weights 22, cnn_classifier_dropout
# 22 (after the other CNN studies: it loads their programs from the compilation cache),
# dropout_training_time 21, real_cross_entropy 20, negative_weights_many_features 20,
# variants_depth 19, real_input_scale 10.
LONGEST := practitioner_claims cnn_dropout_between_convs cnn_batchnorm_order rate_choice \
           depth_penalty fig2_input_scale real_depth underfitting_vs_keep real_label_noise \
           variants_negative_weights mc_dropout_samples negative_weights cnn_classifier_dropout \
           dropout_training_time real_cross_entropy negative_weights_many_features variants_depth \
           real_input_scale
ORDERED := $(filter $(EXPERIMENTS),$(LONGEST)) $(filter-out $(LONGEST),$(EXPERIMENTS))
RESULTS := $(ORDERED:%=results/%.json)
FIGURES := $(ORDERED:%=figures/%.png)

.PHONY: all test test-all bench clean distclean
.DELETE_ON_ERROR:
.PRECIOUS: results/%.json

# The experiments are independent processes, run $(NPROC) at a time (one per core): one's
# compilation (one core) overlaps another's computation. Every file is written whole or not at all;
# first, cached results that are corrupt, another experiment's or from other code (a time stamp
# cannot tell) and files an interrupted run left half-written are deleted, so make recomputes them.
all: $(SETUP) $(DEPS)
	$(PY) -m experiments --clean-invalid
	$(MAKE) -j$(NPROC) figures/REPORT.md

$(SETUP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,torch]'
	touch $@

$(DEPS): $(SOURCES) | $(SETUP)
	mkdir -p results
	$(PY) -m experiments --deps > $@.tmp && mv $@.tmp $@

# Compute stage: results/NAME.json; its prerequisites are in $(DEPS). The same process then draws
# the figure from the result it wrote (one Python start-up fewer), so figures/NAME.png comes out
# newer than every prerequisite of the plot stage below, which then has nothing to do.
results/%.json: | $(SETUP)
	XLA_FLAGS="$(DEVICES) $(FAST_COMPILE) $(ONE_CODEGEN_THREAD) $(XLA_FLAGS)" $(PY) -m experiments $* --stage all

# Plot stage: figures/NAME.{png,pdf,json} are drawn from the cache only, unless the PNG is already
# newer than all its prerequisites (make decided to remake it before the compute stage drew it):
# it runs when only the plotting code changed, or a run stopped between the result and its figure.
figures/%.png: | $(SETUP)
	@if [ -f $@ ] && [ -z "$$(find $^ -newer $@)" ]; then echo "$@: drawn by the compute stage"; \
	else echo "$(PY) -m experiments $* --stage plot"; $(PY) -m experiments $* --stage plot; fi

figures/REPORT.md: $(FIGURES) experiments/report.py
	$(PY) -m experiments report

# One pytest worker per core, each on one thread (NumPy's BLAS too; XLA's flags are in
# tests/conftest.py), each taking whole test modules (--dist loadscope: the tests of a module share
# their compiled programs and module fixtures; 125 s against 132 s of pytest with test by test
# distribution, three paired runs on a fresh clone), the longest modules first
# (tests/conftest.py: LONGEST_FIRST; --no-loadscope-reorder keeps that order); `make test` leaves
# out the tests marked slow (quick end-to-end runs of the SGD experiments, which `make all` runs at
# full size); `make test-all` runs them too.
PYTEST := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -q -n auto --dist loadscope \
          --no-loadscope-reorder

test: $(SETUP)
	$(PYTEST) -m "not slow"

test-all: $(SETUP)
	$(PYTEST)

clean:
	rm -rf results/ figures/*.png figures/*.pdf figures/*.json figures/REPORT.md \
	       .pytest_cache .hypothesis .cache

distclean: clean
	rm -rf $(VENV) *.egg-info

# Benchmarks (not part of `all` or `test`); PyTorch (the optional extra `torch`) comes with set-up,
# the C compiler of the roofline's microbenchmark with the extra `bench`.
bench: $(SETUP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/bench.py
