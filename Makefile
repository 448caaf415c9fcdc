# Thin wrapper over CMake. `make test` is the whole suite; `make run` the main job.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# Developer and CI builds treat warnings as errors; a plain cmake build
# (what packagers run) leaves IPK_WERROR off. `make WERROR=OFF` to relax.
WERROR     ?= ON
REL_GCC_BUILD   ?= build-release-gcc
REL_CLANG_BUILD ?= build-release-clang
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS  ?= $(JOBS)
CHAOS_KILLS ?= 200

.PHONY: all setup build test asan tsan release-gcc release-clang fuzz chaos run install clean

all: build

setup:
	@bash scripts/setup.sh

# configured every time (a second), so an existing build directory picks up
# WERROR and CMAKE_FLAGS too
build:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	      -DIPK_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

test: setup
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan: setup
	cmake -S . -B $(ASAN_BUILD) -DIPK_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug \
	      -DIPK_WERROR=$(WERROR)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) -LE no-sanitizer

tsan: setup
	cmake -S . -B $(TSAN_BUILD) -DIPK_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug \
	      -DIPK_WERROR=$(WERROR)
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L tsan

# What packagers build (Release, -O3 -DNDEBUG) with each compiler CI has,
# warnings as errors, and the whole suite run against it.
release-gcc: setup
	cmake -S . -B $(REL_GCC_BUILD) -DCMAKE_BUILD_TYPE=Release \
	      -DCMAKE_C_COMPILER=gcc -DIPK_WERROR=$(WERROR)
	cmake --build $(REL_GCC_BUILD) -j $(JOBS)
	cd $(REL_GCC_BUILD) && ctest --output-on-failure -j $(JOBS)

release-clang: setup
	cmake -S . -B $(REL_CLANG_BUILD) -DCMAKE_BUILD_TYPE=Release \
	      -DCMAKE_C_COMPILER=clang -DIPK_WERROR=$(WERROR)
	cmake --build $(REL_CLANG_BUILD) -j $(JOBS)
	cd $(REL_CLANG_BUILD) && ctest --output-on-failure -j $(JOBS)

# Every libFuzzer harness in tests/fuzz for FUZZ_SECONDS, FUZZ_JOBS at a
# time (clang, ASan+UBSan); fails on a crash. FUZZ=name runs one harness.
fuzz: setup
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCMAKE_C_COMPILER=clang -DIPK_FUZZ=ON -DIPK_WERROR=$(WERROR)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ)

# kill -9 at random moments on every mechanism (CHAOS_KILLS per mechanism;
# CHAOS=name,... picks some): no corrupt message delivered, the survivors
# keep working, nothing leaks. tests/chaos/chaos.c says more.
chaos: setup
	$(MAKE) build
	bash tests/chaos/run.sh $(BUILD) $(CHAOS_KILLS) $(CHAOS)

# The main job: every mechanism measured side by side (about a minute),
# the table on stdout and the charts in bench-report.html.
run: setup
	$(MAKE) build
	./$(BUILD)/tools/ipckit bench --quick --pin --html bench-report.html

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(REL_GCC_BUILD) $(REL_CLANG_BUILD) \
	       $(FUZZ_BUILD)
