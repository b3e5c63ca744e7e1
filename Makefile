# warm — build, test, demo.  `make help` lists the targets.
#
# Build modes (MODE=...): release (default: -O3, OpenMP), asan (ASan+UBSan, no OpenMP, -O1), debug (-O0),
# fuzz (clang + libFuzzer instrumentation + ASan+UBSan, no OpenMP: `make MODE=fuzz fuzzers`, docs/reliability.md).
# Every mode compiles with strict C11 warnings as errors (modes without OpenMP ignore its pragmas).
# Outputs go to build/$(MODE)/; `make MPI=1` builds with Open MPI (mpicc) into build/$(MODE)-mpi/ (docs/scale.md).

MODE ?= release
CC ?= gcc
ifeq ($(CC),cc)
CC := gcc
endif
BUILD := build/$(MODE)
# MPI=1: the dist layer over MPI (src/dist/dist_mpi.c, compiled and linked by mpicc); otherwise the one-process
# dist layer (src/dist/dist_none.c) and no MPI header or library anywhere in the build.
ifeq ($(MPI),1)
CC := mpicc
BUILD := build/$(MODE)-mpi
DIST_SRC := src/dist/dist_common.c src/dist/dist_mpi.c
else
DIST_SRC := src/dist/dist_common.c src/dist/dist_none.c
endif

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wdouble-promotion \
        -Wcast-qual -Wpointer-arith -Werror=implicit-function-declaration -Werror
BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc $(WARN) -MMD -MP
LIBS := -lcjson -lm

ifeq ($(MODE),release)
OPT := -O3 -g -fopenmp
LDOPT := -fopenmp
else ifeq ($(MODE),asan)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -Wno-unknown-pragmas
LDOPT := -fsanitize=address,undefined
else ifeq ($(MODE),noomp)
OPT := -O3 -g -Wno-unknown-pragmas
LDOPT :=
else ifeq ($(MODE),debug)
OPT := -O0 -g -Wno-unknown-pragmas
LDOPT :=
else ifeq ($(MODE),fuzz)
FUZZ_CC ?= $(shell command -v clang-14 || command -v clang)
CC := $(FUZZ_CC)
# clang's -Wdouble-promotion also flags the float constants NAN and INFINITY assigned to doubles (gcc does not):
# harmless, so off in this mode only.
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
       -Wno-unknown-pragmas -Wno-double-promotion
LDOPT := -fsanitize=fuzzer,address,undefined
else
$(error unknown MODE=$(MODE): use release, asan, noomp, debug or fuzz)
endif
ifeq ($(NATIVE),1)
OPT += -march=native
endif

CFLAGS_ALL := $(BASE) $(OPT) $(CFLAGS)
ifeq ($(MODE),fuzz)
# clang 14's ASan needs more than 10 minutes at -O1 for the unrolled AVX-512 GEMM (src/kernels/matmul.c; 3 s at -O0).
# The fuzz targets parse files and barely run the kernels, so the kernels build at -O0 in this mode.
$(BUILD)/obj/src/kernels/%.o: CFLAGS_ALL := $(BASE) $(subst -O1,-O0,$(OPT)) $(CFLAGS)
endif

LIB_SRC := $(sort $(wildcard src/core/*.c src/kernels/*.c src/model/*.c src/io/*.c src/text/*.c src/train/*.c \
                             src/merge/*.c src/eval/*.c src/align/*.c src/task/*.c src/report/*.c) $(DIST_SRC))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
LIBWARM := $(BUILD)/libwarm.a
WARM := $(BUILD)/warm

.SECONDARY:
.PHONY: all lib tests benches fuzzers test test-release test-asan demo deps bench clean help fixtures bpe-fixtures \
        fuzz crash english
all: $(WARM) $(TEST_BIN) $(BENCH_BIN)
lib: $(LIBWARM)
tests: $(TEST_BIN)
benches: $(BENCH_BIN)
fuzzers: $(FUZZ_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIBWARM): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(WARM): $(CLI_OBJ) $(LIBWARM)
	$(CC) $(LDOPT) $(CLI_OBJ) $(LIBWARM) $(LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBWARM)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $< $(LIBWARM) $(LIBS) -lcmocka -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBWARM)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $< $(LIBWARM) $(LIBS) -o $@

$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(LIBWARM)
	@mkdir -p $(dir $@)
	$(CC) $(LDOPT) $< $(LIBWARM) $(LIBS) -o $@

# Installs the Debian packages the build and tests need (apt-get; only when something is missing).
deps:
	@sh scripts/install-deps.sh build

# `make test`: every test in the release build (OpenMP), then again under ASan+UBSan (no OpenMP), then the
# MPI build's tests under mpirun with 2 and 3 ranks (Open MPI installed by the `mpi` set; docs/scale.md).
# Then every fuzz target for a few seconds (clang + libFuzzer, ASan+UBSan; skipped, saying so, without clang).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

test: deps
	@sh scripts/install-deps.sh mpi
	@sh scripts/install-deps.sh fuzz
	$(MAKE) --no-print-directory -j$(JOBS) MODE=release all
	$(MAKE) --no-print-directory -j$(JOBS) MODE=asan tests $(WARM:build/release/%=build/asan/%)
	$(MAKE) --no-print-directory -j$(JOBS) MODE=release MPI=1 build/release-mpi/warm build/release-mpi/tests/test_dist
	@if sh scripts/fuzz.sh available >/dev/null; then $(MAKE) --no-print-directory -j$(JOBS) MODE=fuzz fuzzers; \
	 else echo "make test: clang with libFuzzer not found: the fuzz smoke run is skipped"; fi
	sh scripts/run-tests.sh build/release build/asan build/release-mpi build/fuzz

# `make fuzz`: every fuzz target for FUZZ_RUNS executions (default 10^6), corpus grown in build/fuzz/corpus/.
FUZZ_RUNS ?= 1000000
fuzz: deps
	@sh scripts/install-deps.sh fuzz
	$(MAKE) --no-print-directory -j$(JOBS) MODE=fuzz fuzzers
	FUZZ_RUNS=$(FUZZ_RUNS) sh scripts/fuzz.sh long

# `make crash`: kill -9 / disk-full tests of pretrain, train-rm, sweep, merge (minutes; not part of make test).
crash: deps
	$(MAKE) --no-print-directory -j$(JOBS) MODE=release $(WARM)
	bash scripts/crash-test.sh build/release

# `make demo`: the WARM pipeline on the embedded task, report in demo-out/report.md (docs/demo.md).
# SCALE=tiny|small|full (default small: <= 10 minutes on 2 cores); OUT=DIR (default demo-out). Reruns resume.
SCALE ?= small
OUT ?= demo-out
demo: deps
	@sh scripts/install-deps.sh plot
	$(MAKE) --no-print-directory -j$(JOBS) MODE=release $(WARM)
	$(WARM) demo --scale $(SCALE) --out $(OUT)

# `make english`: an English GPT-2 base (docs/english.md): the King James Bible (Debian's bible-kjv) and Tiny
# Shakespeare, GPT-2 BPE, 4 layers x 4 heads x width 256, context 256, 1,700 steps of 16 rows (under 30 minutes
# on 2 cores). ENGLISH_OUT=DIR (default english-out). Reruns resume the pretraining.
ENGLISH_OUT ?= english-out
english: deps
	@sh scripts/install-deps.sh english
	$(MAKE) --no-print-directory -j$(JOBS) MODE=release $(WARM)
	sh scripts/english_corpus.sh $(ENGLISH_OUT)/data
	$(WARM) pretrain --tokenizer gpt2 --data $(ENGLISH_OUT)/data/train.jsonl --val $(ENGLISH_OUT)/data/val.jsonl \
	    --layers 4 --heads 4 --width 256 --context 256 --steps 1700 --batch 16 --lr 1e-3 --warmup 100 --dropout 0 \
	    --eval-every 200 --eval-batches 10 --seed 1 -o $(ENGLISH_OUT)/pretrain

# Benchmarks (not part of the tests): needs python3-torch for the PyTorch baseline; the tokenizer benchmark's
# baseline is the npm GPT-2 encoders (installed into build/npm when npm is there).
bench: deps
	@sh scripts/install-deps.sh bench
	-@command -v npm >/dev/null && npm install --silent --no-audit --no-fund --prefix build/npm $(BPE_NPM) \
	  || echo "bench: the npm tokenizer baseline is skipped (no npm, or the registry cannot be reached)"
	$(MAKE) --no-print-directory -j$(JOBS) MODE=release all
	sh bench/run.sh build/release

# Regenerates the committed fixtures: PyTorch golden files (python3-torch), numpy-written merge inputs and the
# numpy-written Hugging Face model directory of the export/import test (tests/fixtures/hf_tiny).
fixtures:
	@sh scripts/install-deps.sh bench
	/usr/bin/python3 scripts/make_golden.py tests/fixtures
	/usr/bin/python3 scripts/make_merge_fixtures.py tests/fixtures
	/usr/bin/python3 scripts/make_hf_fixtures.py tests/fixtures

# Regenerates the GPT-2 tokenizer fixtures (tests/fixtures/bpe_golden_*) with the npm reference encoders and
# Python's regex module, and the Unicode class tables of the pre-tokeniser (src/text/unicode_data.c).
BPE_NPM := gpt-3-encoder@1.1.4 js-tiktoken@1.0.21
SHARED_DATA ?= ../shared/data
bpe-fixtures:
	@sh scripts/install-deps.sh bpe
	npm install --silent --no-audit --no-fund --prefix build/npm $(BPE_NPM)
	/usr/bin/python3 scripts/make_unicode_tables.py > src/text/unicode_data.c.tmp && mv src/text/unicode_data.c.tmp src/text/unicode_data.c
	node scripts/make_bpe_golden.js $(SHARED_DATA) tests/fixtures

clean:
	rm -rf build

help:
	@echo "make demo      build and run the WARM pipeline + report (SCALE=tiny|small|full, OUT=demo-out)"
	@echo "make english   an English GPT-2 base on the KJV + Tiny Shakespeare, ~30 min (ENGLISH_OUT=english-out)"
	@echo "make test      build and run every test (release + ASan/UBSan builds, MPI build under mpirun, a few seconds of each fuzzer)"
	@echo "make fuzz      every fuzz target for FUZZ_RUNS executions (default 10^6; docs/reliability.md)"
	@echo "make crash     kill -9 at random moments of pretrain/train-rm/sweep/merge, and a full disk"
	@echo "make bench     benchmarks against PyTorch (prints figures; see docs/benchmarks.md)"
	@echo "make fixtures  regenerate the PyTorch golden and numpy merge fixtures"
	@echo "make bpe-fixtures  regenerate the GPT-2 tokenizer goldens (npm encoders) and Unicode tables"
	@echo "make MODE=release|asan|noomp|debug [NATIVE=1] [MPI=1] all   (MPI=1: Open MPI build in build/MODE-mpi)"
	@echo "make MODE=fuzz fuzzers   (clang, libFuzzer)"

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:$(BUILD)/tests/%=$(BUILD)/obj/tests/%.d)
