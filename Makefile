# drydock: one GNU Makefile. `make`, `make check`, `make check-includes`, `make SANITIZER=address|undefined|address,undefined`,
# `make install` / `make uninstall` (PREFIX, DESTDIR), `make bench`, `make fuzz` (clang + libFuzzer). Objects go to build/ (build-<sanitizers>/ for
# sanitizer flavours); header dependencies are tracked automatically (-MMD).

PKGS := libssl libnghttp2 libcurl libcrypto jansson libarchive sqlite3 libpq zlib libzstd libxcrypt libisal libseccomp libpcre2-8
CC ?= cc
SANITIZER ?=
DEVELOPER ?= 1

comma := ,
BUILD := build$(if $(SANITIZER),-$(subst $(comma),-,$(SANITIZER)))
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -pthread -Isrc -MMD -MP $(shell pkg-config --cflags $(PKGS))
ifeq ($(DEVELOPER),1)
CFLAGS += -Wall -Wextra -Werror -Wvla -Wstrict-prototypes
endif
ifneq ($(SANITIZER),)
CFLAGS += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all
endif
LDFLAGS += -Wl,--as-needed -Wl,-z,now
LDLIBS += $(shell pkg-config --libs $(PKGS)) -pthread -lm

LIB_SRC := $(sort $(filter-out src/cmd/%,$(wildcard src/*/*.c)))
CMD_SRC := $(sort $(wildcard src/cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))

# the dashboard's files, embedded in the binary (src/web/ui.h)
UI_FILES := ui/index.html ui/app.js ui/app.css
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/ui_files.o
CMD_OBJ := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

BIN := $(BUILD)/drydock
# The same binary with the sandboxed worker's test hooks (src/scan/sandbox_worker.c), for the
# tests that make a worker crash, hang or make a forbidden system call; never installed.
HOOKS_BIN := $(BUILD)/drydock-test-hooks

.PHONY: all check check-plain check-includes bench fuzz fuzz-coverage clean install uninstall
all: $(BIN) $(HOOKS_BIN) $(BUILD)/unit-tests $(BUILD)/fuzz-replay

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/ui_files.c: $(UI_FILES) scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $@ "/=ui/index.html:text/html; charset=utf-8" "/ui/app.js=ui/app.js:text/javascript; charset=utf-8" \
	  "/ui/app.css=ui/app.css:text/css; charset=utf-8"

$(BUILD)/gen/ui_files.o: $(BUILD)/gen/ui_files.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libdrydock.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(BUILD)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/src/scan/%-hooks.o: src/scan/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DDD_TEST_HOOKS -c -o $@ $<

# the hooks objects come first, so the archive's own sandbox_worker.o and scanner.o are not linked
$(HOOKS_BIN): $(CMD_OBJ) $(BUILD)/src/scan/sandbox_worker-hooks.o $(BUILD)/src/scan/scanner-hooks.o \
	      $(BUILD)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The fuzz targets linked to a plain driver that replays saved inputs (fuzz/corpus/*/*):
# crash inputs once found become regression tests of the normal test run.
$(BUILD)/fuzz-replay: $(FUZZ_SRC:%.c=$(BUILD)/%.o) $(BUILD)/fuzz/replay.o $(BUILD)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every test: unit tests, fuzz corpus replay, black-box HTTP tests, real clients, crash test;
# `make check` runs them all twice, on the plain build and on one built with AddressSanitizer
# and UndefinedBehaviorSanitizer (no recovery: a report fails the test), and prints one total.
# `make check SANITIZER=...` or `make check-plain` runs one flavour only.
# `make check` and `make check-plain` start with the include-arrow check (instant), so a
# forbidden include fails at once; tests/run.sh counts it again among the tests.
SAN_CHECK := address,undefined
ifeq ($(SANITIZER),)
check: check-includes all
	$(MAKE) --no-print-directory SANITIZER=$(SAN_CHECK) all
	RUNS="$(BUILD) build-$(subst $(comma),-,$(SAN_CHECK))" tests/run.sh
else
check: check-includes all
	RUNS="$(BUILD)" tests/run.sh
endif

check-plain: check-includes all
	RUNS="$(BUILD)" tests/run.sh

# The arrows allowed between the folders of src/ (docs/architecture.md): every #include checked.
check-includes:
	scripts/check-includes.sh

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

# libFuzzer builds (clang): the library built once with fuzzer instrumentation and the
# sanitizers, each harness linked to it. Run e.g. build-fuzz/fuzz_digest fuzz/corpus/digest;
# fuzz/campaign.sh runs them all and keeps what they find.
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -std=c11 -pthread -Isrc -MMD -MP \
	$(shell pkg-config --cflags $(PKGS)) -DDD_LIBFUZZER
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ_BUILD)/libdrydock.a: $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_BUILD)/libdrydock.a
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
fuzz: $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
.SECONDARY: $(FUZZ_SRC:%.c=$(FUZZ_BUILD)/%.o)

# Source coverage of the saved corpora: the replay driver built with clang's coverage
# mapping, run over fuzz/corpus, summed by llvm-cov (fuzz/campaign.sh prints it).
COV_BUILD := build-cov
COV_CFLAGS := -g -O0 -fprofile-instr-generate -fcoverage-mapping -std=c11 -pthread -Isrc -MMD -MP \
	$(shell pkg-config --cflags $(PKGS))
$(COV_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(COV_CFLAGS) -c -o $@ $<
$(COV_BUILD)/fuzz-replay: $(FUZZ_SRC:%.c=$(COV_BUILD)/%.o) $(COV_BUILD)/fuzz/replay.o $(LIB_SRC:%.c=$(COV_BUILD)/%.o)
	clang -fprofile-instr-generate -o $@ $^ $(LDLIBS)
fuzz-coverage: $(COV_BUILD)/fuzz-replay
	rm -f $(COV_BUILD)/*.profraw
	LLVM_PROFILE_FILE=$(COV_BUILD)/replay.profraw $(COV_BUILD)/fuzz-replay fuzz/corpus
	llvm-profdata merge -o $(COV_BUILD)/replay.profdata $(COV_BUILD)/replay.profraw
	llvm-cov report $(COV_BUILD)/fuzz-replay -instr-profile=$(COV_BUILD)/replay.profdata \
	  -ignore-filename-regex='(fuzz|tests)/' $(LIB_SRC)

# `make install` puts the binary on PATH, the man page drydock(1), the systemd units (the
# registry; a timer that refreshes its vulnerability database), the sysusers.d entry of the
# account they run as and, unless there is one already, the service's configuration file.
# PREFIX (default /usr/local) and DESTDIR (a staging root for packages) as usual; the
# configuration goes to /etc with PREFIX=/usr, else to PREFIX/etc (SYSCONFDIR). Run by root
# without DESTDIR it also creates the account (systemd-sysusers). `make uninstall` removes what
# install put, the configuration only when it is unchanged, and never the data.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL ?= install
UNITS := drydock.service drydock-db-update.service drydock-db-update.timer
CONF := $(DESTDIR)$(SYSCONFDIR)/drydock/drydock.conf

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/drydock
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(BINDIR)/drydock
	$(INSTALL) -m 644 man/drydock.1 $(DESTDIR)$(MANDIR)/man1/drydock.1
	for u in $(UNITS); do \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' dist/$$u >$(DESTDIR)$(UNITDIR)/$$u.tmp && \
	  chmod 644 $(DESTDIR)$(UNITDIR)/$$u.tmp && mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	$(INSTALL) -m 644 dist/drydock.sysusers $(DESTDIR)$(SYSUSERSDIR)/drydock.conf
	@if [ -e $(CONF) ]; then echo "install: keeping $(CONF) as it is"; \
	else echo "$(INSTALL) -m 644 dist/drydock.conf $(CONF)"; $(INSTALL) -m 644 dist/drydock.conf $(CONF); fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
	  echo "systemd-sysusers $(SYSUSERSDIR)/drydock.conf"; systemd-sysusers $(SYSUSERSDIR)/drydock.conf; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/drydock $(DESTDIR)$(MANDIR)/man1/drydock.1 $(UNITS:%=$(DESTDIR)$(UNITDIR)/%) \
	  $(DESTDIR)$(SYSUSERSDIR)/drydock.conf
	@if cmp -s dist/drydock.conf $(CONF); then echo "rm -f $(CONF)"; rm -f $(CONF); \
	  rmdir $(DESTDIR)$(SYSCONFDIR)/drydock 2>/dev/null || true; \
	elif [ -e $(CONF) ]; then echo "uninstall: keeping $(CONF): it was changed"; fi
	@echo "uninstall: the service's data (/var/lib/drydock) and its account 'drydock' stay"

clean:
	rm -rf build build-* 

-include $(shell find build* -name '*.d' 2>/dev/null)
