# Omen: build, run, test, install.
#
#   make run      install missing Debian packages, build release, run the daemon with config/omen.toml
#   make test     install missing Debian packages, build, run every test
#   make bench    print the engine and ingest benchmarks (release build)
#   make nab      replay ../shared/nab through the detector and score it: three profiles, cross-validated scores,
#                 per category beside Numenta HTM (needs ../shared/nab; scripts/nab-seeds.sh for 3-seed means)
#   make install  install binary, systemd unit, config, user and state directory (as root)
#   make fuzz     libFuzzer on one decoder: FUZZ_TARGET=payload|toml|checkpoint, FUZZ_SECONDS=60 (not part of test)
#   make format   format Sources, Tests and Package.swift in place with swift-format and .swift-format
#   make lint     list what `make format` would change, without changing it

SWIFT      ?= swift
DEB_PKGS   := libzmq3-dev libsqlite3-dev pkg-config librdkafka-dev
# x86-64: build for AVX2+FMA (Haswell and later). Swift's default x86-64 target is SSE2, where fused
# multiply-adds become library calls and the recurrent kernels run 20-30x slower (see README, "Performance").
ARCH       := $(shell uname -m)
CPU_FLAGS  := $(if $(filter x86_64,$(ARCH)),-Xswiftc -target-cpu -Xswiftc haswell,)
RELEASE    := -c release $(CPU_FLAGS)
# Tests run on an optimised build too (the numerics are unusably slow unoptimised), in their own build folder
# so that `make run` and `make test` do not rebuild each other's products. They keep Swift's run-time exclusivity
# checks, which the shipped build leaves out of the per-point modules (see Package.swift).
TEST_FLAGS := -c release $(CPU_FLAGS) -Xswiftc -enable-testing -Xswiftc -enforce-exclusivity=checked --scratch-path .build-test
BIN        := .build/release/omen
CONFIG     ?= config/omen.toml
PREFIX     ?= /usr/local

# Coverage-guided fuzzing (libFuzzer, -sanitize=fuzzer) of the decoders in Sources/FuzzTargets, in its own build
# folder. Crashes are saved as .fuzz/crash-*; replay one with a normal build: .build-test/release/omen-fuzz TARGET FILE.
FUZZ_FLAGS   := -c release $(CPU_FLAGS) --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DOMEN_LIBFUZZER
FUZZ_TARGET  ?= payload
FUZZ_SECONDS ?= 60

.PHONY: deps build run test bench nab install format lint clean fuzz

deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build $(RELEASE) --product omen

run: build
	$(BIN) run --config $(CONFIG) --database ./omen.db

test: deps
	$(SWIFT) build $(TEST_FLAGS) --build-tests
	OMEN_BIN=$(CURDIR)/.build-test/release/omen $(SWIFT) test $(TEST_FLAGS) --skip-build

bench: build
	$(BIN) bench step
	$(BIN) bench train
	$(BIN) bench detect
	$(BIN) bench ingest

nab: build
	NAB_DIR=$${NAB_DIR:-../shared/nab} scripts/nab.sh $(BIN)

fuzz: deps
	$(SWIFT) build $(FUZZ_FLAGS) --product omen-fuzz
	mkdir -p .fuzz/corpus-$(FUZZ_TARGET)
	SWIFT_BACKTRACE=enable=no OMEN_FUZZ_TARGET=$(FUZZ_TARGET) OMEN_FUZZ_SEEDS=.fuzz/corpus-$(FUZZ_TARGET) .build-fuzz/release/omen-fuzz \
		-max_total_time=$(FUZZ_SECONDS) -max_len=65536 -artifact_prefix=.fuzz/ -print_final_stats=1 .fuzz/corpus-$(FUZZ_TARGET)

install: build
	deploy/install.sh $(BIN) $(PREFIX)

# swift-format ships with the toolchain (`swift format --version`).
FORMAT_PATHS := Sources Tests Package.swift

format:
	$(SWIFT) format --in-place --recursive --parallel --configuration .swift-format $(FORMAT_PATHS)

lint:
	$(SWIFT) format lint --recursive --parallel --configuration .swift-format $(FORMAT_PATHS)

clean:
	rm -rf .build .build-test .build-fuzz .fuzz
