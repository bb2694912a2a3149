# make bench                      measure every target on the local-process runtime
# make bench TARGETS=chi PROFILE=quick DURATION=5s
# make test                       unit, conformance and integration tests
# make bench RUNTIME=docker       the same, each target in a container (starts dockerd if needed)
# make bench REPEAT=3             measure each target 3 times: medians and spread
# make report [RUN=results/<id>]  redo summary.md, charts/ and report.md from results.json
# make nightly [BASELINE=<run>]   bench + report + compare against BASELINE (docs/nightly.md)
# make bench SCENARIO=compute      raw compute: the contract's compute kernel, judged on the compute claims
# make bench SCENARIO=gc           GC tails: a large live heap, allocation-heavy requests, 60 s at a moderate rate
# make bench SCENARIO=connections  connection scale: held keep-alive connections in steps, a paced probe at each
# make bench SCENARIO=db           database-bound CRUD against a real PostgreSQL (started, seeded and stopped by the harness)
# make bench CALIBRATE=0          skip the loader's calibration (README: How accurate is it)
# make bench LOADERS=2            the loader as 2 agent processes, their histograms merged (README: Several loaders)
# make bench CPU_IDLE=default     leave the loader's CPUs halting when idle (default: polling for the run; README: How accurate is it)
# make calibrate                  measure the loader against an instant reference server
# make loader-bench               the loader beside wrk and oha against the same reference server
# make crosscheck                 measure chi and axum with the harness and with oha; exit 1 if they disagree
# make crosscheck PAIRS=5         5 same-arrivals pairs per target instead of 3 (medians compared)
# make k8s-manifests PROFILE=article-k8s [TARGETS=chi] [K8S_OUT=dir]
#                                 RUNTIME=k8s's dry run: the manifests it would apply (docs/kubernetes.md)
GO       ?= go
TARGETS  ?=
PROFILE  ?= quick
SCENARIO ?=
DURATION ?=
RUNTIME  ?= local
HARNESS  := bin/harness

BENCH_FLAGS := -profile $(PROFILE) -runtime $(RUNTIME) -install-missing
ifneq ($(TARGETS),)
BENCH_FLAGS += -targets $(TARGETS)
endif
ifneq ($(SCENARIO),)
BENCH_FLAGS += -scenario $(SCENARIO)
endif
ifneq ($(DURATION),)
BENCH_FLAGS += -duration $(DURATION)
endif
# CALIBRATE=0 skips the loader's calibration against the reference server.
CALIBRATE ?= 1
ifeq ($(CALIBRATE),0)
BENCH_FLAGS += -calibrate=false
endif
# LOADERS=N runs the loader as N agent processes on the loader CPUs; 0 keeps it
# in the harness's process; by default, with several loader CPUs, one agent per
# CPU if they calibrate to a higher capacity than one process.
LOADERS  ?=
ifneq ($(LOADERS),)
BENCH_FLAGS += -loaders $(LOADERS)
endif
# CPU_IDLE=default leaves the loader's CPUs in the machine's own idle states;
# the profile's loader.cpu_idle (poll) holds them polling for the run.
CPU_IDLE ?=
ifneq ($(CPU_IDLE),)
BENCH_FLAGS += -cpu-idle $(CPU_IDLE)
IDLE_FLAG := -cpu-idle $(CPU_IDLE)
endif
# REPEAT=N measures each target N times; summaries report the median and spread.
REPEAT   ?=
ifneq ($(REPEAT),)
BENCH_FLAGS += -repeat $(REPEAT)
endif

.PHONY: bench test verify setup targets clean $(HARNESS) docker-up docker-down docker-base docker-clean calibrate loader-bench k8s-manifests

# RUNTIME=docker starts a Docker engine first when none answers (and
# leaves it running; make docker-down stops the one it started); so does
# RUNTIME=k8s, which builds the images it pushes with it.
bench: $(HARNESS) $(if $(filter docker k8s,$(RUNTIME)),docker-up)
	$(HARNESS) bench $(BENCH_FLAGS)

# -p 1: packages run one at a time, since several tests load the CPUs and
# would otherwise measure each other.
test:
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 40m ./...

# The instrument before the subject: the loader against an instant reference
# server on the target's CPUs (what every bench does first), and beside wrk
# (Debian's, installed when missing) and oha (installed as for crosscheck,
# below) against the same server.
calibrate: $(HARNESS)
	$(HARNESS) calibrate -profile $(PROFILE) $(IDLE_FLAG)

loader-bench: $(HARNESS)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; } \
		|| { echo "loader-bench: needs wrk (apt-get install wrk)" >&2; exit 2; }
	$(call need_oha,loader-bench)
	$(HARNESS) loader-bench -profile $(PROFILE) -oha $(OHA) $(IDLE_FLAG)

# K8S_OUT is where the dry run writes loader.yaml and target-<name>.yaml.
K8S_OUT ?= k8s-manifests
k8s-manifests: $(HARNESS)
	$(HARNESS) bench -runtime k8s -dry-run -out $(K8S_OUT) -profile $(PROFILE) $(if $(TARGETS),-targets $(TARGETS))

setup: $(HARNESS)
	$(HARNESS) setup

targets: $(HARNESS)
	$(HARNESS) targets

$(HARNESS):
	$(GO) build -o $(HARNESS) ./harness/cmd/harness

clean:
	rm -rf bin

# The container runtime (RUNTIME=docker). docker-up installs docker.io and
# debootstrap when missing (root) and starts dockerd --bridge=none
# --iptables=false unless an engine answers; docker-down stops only that
# dockerd, by the PID docker-up recorded. docker-base builds the offline base
# image (debootstrap + docker import), which the harness uses when the
# Dockerfiles' registry base images cannot be pulled; BENCH_DOCKER_IMAGES=
# offline|dockerfile forces a path. docker-clean removes every container the
# harness labelled (org.benchharness.managed), e.g. after a kill -9, and the
# targets' untagged images.
docker-up:
	scripts/docker-up.sh

docker-down:
	scripts/docker-down.sh

docker-base: docker-up
	scripts/docker-base.sh

docker-clean:
	ids=$$(docker ps -aq --filter label=org.benchharness.managed); [ -z "$$ids" ] || docker rm -f $$ids
	docker image prune -f --filter label=org.benchharness.target

# ---- Reports, comparisons and the nightly job (docs/nightly.md).
RUN       ?= results/latest
BASELINE  ?=
THRESHOLD ?= 10%

.PHONY: report compare nightly

report: $(HARNESS)
	$(HARNESS) report $(RUN)

compare: $(HARNESS)
	@test -n "$(BASELINE)" || { echo "compare: set BASELINE=<baseline run dir>" >&2; exit 2; }
	$(HARNESS) compare -threshold $(THRESHOLD) -out $(RUN)/compare.md $(BASELINE) $(RUN)

# The bench's own failure (a target failed) does not stop the report and the
# comparison: the run is still worth reading; the exit status keeps it. The
# run directory is the one the bench prints ("results: <dir>"), not
# results/latest, which another bench on the same machine may move.
nightly: $(HARNESS)
	@tmp=$$(mktemp -d); status=0; \
	{ $(MAKE) --no-print-directory bench; echo $$? > $$tmp/status; } | tee $$tmp/log; \
	status=$$(cat $$tmp/status); run=$$(sed -n 's/^results: //p' $$tmp/log | tail -n 1); rm -rf $$tmp; \
	if [ -z "$$run" ] || [ ! -f "$$run/results.json" ]; then \
		echo "nightly: the bench wrote no run (exit $$status)" >&2; exit 1; fi; \
	$(HARNESS) report $$run || status=1; \
	if [ -n "$(BASELINE)" ] && [ -f "$(BASELINE)/results.json" ]; then \
		$(HARNESS) compare -threshold $(THRESHOLD) -out $$run/compare.md $(BASELINE) $$run || status=1; \
	else \
		echo "nightly: no baseline run ($(if $(BASELINE),$(BASELINE)/results.json not found,BASELINE not set)): comparison skipped"; \
	fi; \
	echo "nightly: $$run (exit $$status)"; exit $$status

# ---- Cross-check against oha, an independent open-model, latency-correcting
# loader (harness/crosscheck). Not part of `make test`: it takes minutes and
# needs oha, which is installed with cargo when it is neither on PATH nor in
# the tools dir. native-tls: oha 1.16.0 does not compile without a TLS
# feature, and native-tls builds on bookworm's libssl-dev (rustls would pull
# in aws-lc's C build). OHA=<path> uses another binary.
OHA_ROOT := $(HOME)/.cache/bench-harness/tools
OHA      ?= $(or $(shell command -v oha 2>/dev/null),$(OHA_ROOT)/bin/oha)

.PHONY: crosscheck

# $(call need_oha,who) installs oha into OHA_ROOT unless OHA is executable.
define need_oha
	@if [ ! -x "$(OHA)" ]; then \
		if [ "$(OHA)" != "$(OHA_ROOT)/bin/oha" ]; then echo "$(1): OHA=$(OHA) is not an executable" >&2; exit 2; fi; \
		echo "$(1): installing oha 1.16.0 into $(OHA_ROOT) (a few minutes)"; \
		cargo install oha --version 1.16.0 --locked --no-default-features --features native-tls --root $(OHA_ROOT); \
	fi
endef

crosscheck: $(HARNESS)
	$(call need_oha,crosscheck)
	$(HARNESS) crosscheck -oha $(OHA) -profile $(PROFILE) $(IDLE_FLAG)$(if $(TARGETS), -targets $(TARGETS))$(if $(PAIRS), -pairs $(PAIRS))
