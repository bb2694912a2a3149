# make bench                      measure every target on the local-process runtime
# make bench TARGETS=chi PROFILE=quick DURATION=5s
# make test                       unit, conformance and integration tests
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

.PHONY: bench test verify setup targets clean $(HARNESS)

bench: $(HARNESS)
	$(HARNESS) bench $(BENCH_FLAGS)

# -p 1: packages run one at a time, since several tests load the CPUs and
# would otherwise measure each other.
test:
	$(GO) vet ./...
	$(GO) test -p 1 -count=1 -timeout 40m ./...

setup: $(HARNESS)
	$(HARNESS) setup

targets: $(HARNESS)
	$(HARNESS) targets

$(HARNESS):
	$(GO) build -o $(HARNESS) ./harness/cmd/harness

clean:
	rm -rf bin
