# Omen: build, run, test, install.
#
#   make run      install missing Debian packages, build release, run the daemon with config/omen.toml
#   make test     install missing Debian packages, build, run every test
#   make bench    print the engine and ingest benchmarks (release build)
#   make nab      replay ../shared/nab through the detector and score it (needs ../shared/nab)
#   make install  install binary, systemd unit, config, user and state directory (as root)
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
# so that `make run` and `make test` do not rebuild each other's products.
TEST_FLAGS := -c release $(CPU_FLAGS) -Xswiftc -enable-testing --scratch-path .build-test
BIN        := .build/release/omen
CONFIG     ?= config/omen.toml
PREFIX     ?= /usr/local

.PHONY: deps build run test bench nab install format lint clean

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
	scripts/nab.sh $(BIN)

install: build
	deploy/install.sh $(BIN) $(PREFIX)

# swift-format ships with the toolchain (`swift format --version`).
FORMAT_PATHS := Sources Tests Package.swift

format:
	$(SWIFT) format --in-place --recursive --parallel --configuration .swift-format $(FORMAT_PATHS)

lint:
	$(SWIFT) format lint --recursive --parallel --configuration .swift-format $(FORMAT_PATHS)

clean:
	rm -rf .build .build-test
