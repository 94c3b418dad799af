# drydock: one GNU Makefile. `make`, `make check`, `make SANITIZER=address|undefined`,
# `make bench`, `make fuzz` (clang + libFuzzer). Objects go to build/ (build-<sanitizer>/ for
# sanitizer flavours); header dependencies are tracked automatically (-MMD).

PKGS := libssl libnghttp2 libcurl libcrypto jansson libarchive sqlite3 zlib libzstd libxcrypt libisal
CC ?= cc
SANITIZER ?=
DEVELOPER ?= 1

BUILD := build$(if $(SANITIZER),-$(SANITIZER))
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -pthread -Isrc -MMD -MP $(shell pkg-config --cflags $(PKGS))
ifeq ($(DEVELOPER),1)
CFLAGS += -Wall -Wextra -Werror -Wvla -Wstrict-prototypes
endif
ifneq ($(SANITIZER),)
CFLAGS += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all
endif
LDFLAGS += -Wl,--as-needed
LDLIBS += $(shell pkg-config --libs $(PKGS)) -pthread -lm

LIB_SRC := $(sort $(filter-out src/cmd/%,$(wildcard src/*/*.c)))
CMD_SRC := $(sort $(wildcard src/cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

BIN := $(BUILD)/drydock

.PHONY: all check unit-test http-test bench fuzz clean
all: $(BIN) $(BUILD)/unit-tests $(BUILD)/fuzz-replay

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libdrydock.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(BUILD)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The fuzz targets linked to a plain driver that replays saved inputs (fuzz/corpus/*/*):
# crash inputs once found become regression tests of the normal test run.
$(BUILD)/fuzz-replay: $(FUZZ_SRC:%.c=$(BUILD)/%.o) $(BUILD)/fuzz/replay.o $(BUILD)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every test: unit tests, fuzz corpus replay, black-box HTTP tests, real clients, crash test.
check: all
	DRYDOCK_BIN=$(abspath $(BIN)) BUILD=$(BUILD) tests/run.sh

$(BUILD)/bench-vulndb: $(BUILD)/bench/bench_vulndb.o $(BUILD)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Only the libraries of the serving path, none of drydock's code (bench/floor_rss.c).
FLOOR_PKGS := libssl libcrypto libnghttp2 sqlite3 jansson
$(BUILD)/floor-rss: bench/floor_rss.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc -MMD -MP,$(CFLAGS)) $(shell pkg-config --cflags $(FLOOR_PKGS)) -o $@ $< \
	  $(LDFLAGS) $(shell pkg-config --libs $(FLOOR_PKGS)) -pthread

bench: $(BIN) $(BUILD)/bench-vulndb $(BUILD)/floor-rss
	bench/run.sh $(abspath $(BIN))

# libFuzzer builds (clang); run e.g. build-fuzz/fuzz_digest fuzz/corpus/digest
fuzz:
	@mkdir -p build-fuzz
	for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc $(shell pkg-config --cflags $(PKGS)) \
	    -DDD_LIBFUZZER -o build-fuzz/$$n $$f $(LIB_SRC) $(LDLIBS) || exit 1; done

clean:
	rm -rf build build-* 

-include $(shell find build* -name '*.d' 2>/dev/null)
