# masix — GNU make, no autotools.
# make            build every program into bin/ and the man pages into build/man/
# make check      run the bats suite against bin/ (check-bats), then t/080
#                 again on loopback ports when root (check-loopback)
# make check-asan build with ASan+UBSan (clang) into build/asan and run the suite there
# make fuzz       build and run the libFuzzer harnesses under t/fuzz/
# make bench      build and run the benchmarks under bench/
# make install    PREFIX (default /usr/local) and DESTDIR honoured
# make fresh-check the README's commands on a pristine Debian 12 (root, debootstrap)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -Ilibcommon
ALL_CFLAGS = -std=gnu11 $(WARN) $(HARDEN_CFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(HARDEN_LDFLAGS) $(LDFLAGS)

# Hardening, whatever CFLAGS says (t/005 checks the binaries with readelf):
# stack protector, PIE, full RELRO (GOT read-only after an immediate
# binding), and FORTIFY at the highest level this compiler and libc give
# (3 with gcc 12 and clang 14 on Debian 12's glibc, else 2), asked of the
# compiler itself. No FORTIFY without optimisation (glibc refuses it) or
# under a sanitizer: the __*_chk functions it calls are not intercepted by
# ASan, so ASan would no longer see overflows in memcpy, strcpy, read, ...
fortify_level = $(shell echo | $(CC) $(CFLAGS) -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=$(1) \
	-include stdio.h -dM -E -x c - 2>/dev/null | grep -q '__USE_FORTIFY_LEVEL $(1)$$' && echo $(1))
ifneq ($(findstring -fsanitize,$(CFLAGS)),)
FORTIFY := -U_FORTIFY_SOURCE
else
FORTIFY_LEVEL := $(or $(call fortify_level,3),$(call fortify_level,2))
FORTIFY := -U_FORTIFY_SOURCE $(if $(FORTIFY_LEVEL),-D_FORTIFY_SOURCE=$(FORTIFY_LEVEL))
endif
HARDEN_CFLAGS ?= -fstack-protector-strong -fPIE $(FORTIFY)
HARDEN_LDFLAGS ?= -pie -Wl,-z,relro,-z,now

# O: object directory, B: binary directory (check-asan builds elsewhere).
O ?= build
B ?= bin

CMDS     := $(sort $(notdir $(wildcard cmd/*)))
BINS     := $(addprefix $(B)/,$(CMDS))
LIB_SRC  := $(wildcard libcommon/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o)
LIB      := $(O)/libcommon.a

# Programs that may link OpenSSL. msgsend and msgrecv must not: linking
# libssl costs ~3 ms per process start, paid on every message of a shell loop.
SSL_CMDS := portd keysrv sigtool namesrv
SSL_LIBS := -lssl -lcrypto
LIBS_portd   = $(SSL_LIBS)
LIBS_namesrv = -lcrypto
LIBS_keysrv  = $(SSL_LIBS)
LIBS_sigtool = $(SSL_LIBS) -lbsd

MAN_SRC  := $(wildcard man/*.scd)
MAN_OUT  := $(patsubst man/%.scd,build/man/%,$(MAN_SRC))

.PHONY: all clean check check-bats check-loopback check-core build-asan check-asan check-layers check-layers-selftest unit build-fuzz fuzz bench install man tools fresh-check
all: $(BINS) man

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# One link rule per program: bin/NAME from cmd/NAME/*.c and libcommon.a.
define cmd_rule
$(B)/$(1): $(patsubst %.c,$(O)/%.o,$(wildcard cmd/$(1)/*.c)) $(LIB)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIB) $$(LIBS_$(1))
endef
$(foreach c,$(CMDS),$(eval $(call cmd_rule,$(c))))

man: $(MAN_OUT)
build/man/%: man/%.scd
	@mkdir -p $(@D)
	scdoc < $< > $@

# Test drivers under t/tools/, linked like the programs.
TOOLS := $(patsubst t/tools/%.c,$(O)/t/%,$(wildcard t/tools/*.c))
$(O)/t/%: t/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(SSL_LIBS)
tools: $(TOOLS)

# Every part runs even when an earlier one fails; make check fails if any did.
check: all tools
	@rc=0; \
	$(MAKE) --no-print-directory check-core || rc=1; \
	$(MAKE) --no-print-directory check-bats || rc=1; \
	$(MAKE) --no-print-directory check-loopback || rc=1; \
	exit $$rc

# portd's layers and headers, and the C unit tests of its IPC core.
check-core: all tools
	@rc=0; \
	$(MAKE) --no-print-directory check-layers || rc=1; \
	$(MAKE) --no-print-directory unit || rc=1; \
	exit $$rc

check-bats: all tools
	MASIX_BIN=$(CURDIR)/$(B) MASIX_TOOLS=$(CURDIR)/$(O)/t bats --timing t/

# As root t/080's nodes live in network namespaces; run it once more the way
# a non-root user does, on loopback ports. A normal user's check-bats did.
check-loopback: all tools
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "# t/080-remote.bats again on loopback ports (MASIX_TEST_LOOPBACK=1)"; \
	  MASIX_TEST_LOOPBACK=1 MASIX_BIN=$(CURDIR)/$(B) MASIX_TOOLS=$(CURDIR)/$(O)/t bats --timing t/080-remote.bats; \
	else \
	  echo "# check-loopback: not root, t/080 already ran on loopback ports"; \
	fi

# Leak checking is off in the suite: LeakSanitizer's exit-time scan was seen
# to hang a daemon here (spinning, deaf to SIGTERM), which would stall CI.
# MX_CHECK_INVARIANTS: portd checks its name spaces and ports after every request.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DMX_CHECK_INVARIANTS
build-asan:
	$(MAKE) O=build/asan B=build/asan/bin CC=clang CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" $(addprefix build/asan/bin/,$(CMDS)) tools
# The suite, then the core's unit tests (leak checking on there); both run.
check-asan: build-asan
	@rc=0; \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	MASIX_BIN=$(CURDIR)/build/asan/bin MASIX_TOOLS=$(CURDIR)/build/asan/t MASIX_ASAN=1 bats --timing t/ || rc=1; \
	$(MAKE) --no-print-directory O=build/asan B=build/asan/bin CC=clang CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  UNIT_ENV="ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
	  UNIT_BATS_ENV="ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 MASIX_ASAN=1" unit || rc=1; \
	exit $$rc

# Layers: no object of portd needs a symbol of a layer above its own
# (t/unit/check-layers.sh), and the check is shown to fail on a planted one;
# every header of portd compiles on its own.
check-layers: $(B)/portd
	sh t/unit/check-layers.sh $(O)/cmd/portd
	sh t/unit/check-layers-selftest.sh $(O)/cmd/portd "$(CC)"
	sh t/unit/check-headers.sh "$(CC)"
check-layers-selftest: $(B)/portd
	sh t/unit/check-layers-selftest.sh $(O)/cmd/portd "$(CC)"

# C unit tests of portd's IPC core (t/unit/*.c), linked with the core's
# sources built with the invariant checker on; then t/unit/*.bats against
# a real node. Each C test prints "N passed, N failed" last.
UNIT_SRC  := $(wildcard t/unit/*.c)
UNIT_BIN  := $(patsubst t/unit/%.c,$(O)/t/unit/%,$(UNIT_SRC))
IPC_SRC   := $(wildcard cmd/portd/ipc*.c) cmd/portd/map.c
UNIT_ENV  ?=
UNIT_BATS_ENV ?=
$(O)/t/unit/%: t/unit/%.c t/unit/unit.h $(IPC_SRC) $(wildcard cmd/portd/ipc*.h) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DMX_CHECK_INVARIANTS -Icmd/portd -std=gnu11 $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(IPC_SRC) $(LIB)
unit: $(UNIT_BIN) $(BINS) tools
	@for u in $(UNIT_BIN); do echo "unit: $$u"; $(UNIT_ENV) $$u || exit 1; done
	$(UNIT_BATS_ENV) MASIX_BIN=$(CURDIR)/$(B) MASIX_TOOLS=$(CURDIR)/$(O)/t bats t/unit/

FUZZ_SECONDS ?= 20
FUZZ_SRC := $(wildcard t/fuzz/*.c)
FUZZ_BIN := $(patsubst t/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
build/fuzz/%: t/fuzz/%.c $(LIB_SRC) $(wildcard libcommon/*.h cmd/portd/*.[ch])
	@mkdir -p $(@D)
	clang $(CPPFLAGS) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRC) $(SSL_LIBS)
# Every harness runs even when one fails; one "fuzz: NAME: ok" or
# "fuzz: NAME: FAILED" line each (contrib/run-tests counts them).
build-fuzz: $(FUZZ_BIN)
fuzz: build-fuzz
	@rc=0; for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  if $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build/fuzz/corpus-$$n t/fuzz/seeds/$$n 2>build/fuzz/$$n.log; then \
	    tail -n 1 build/fuzz/$$n.log; echo "fuzz: $$n: ok"; \
	  else \
	    tail -n 40 build/fuzz/$$n.log; echo "fuzz: $$n: FAILED (log: build/fuzz/$$n.log)"; rc=1; \
	  fi; \
	done; exit $$rc

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRC))
build/bench/%: bench/%.c $(LIB) $(BINS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(SSL_LIBS)
bench: all $(BENCH_BIN)
	MASIX_BIN=$(CURDIR)/$(B) BENCH_BIN=$(CURDIR)/build/bench sh bench/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/msgsend $(B)/msgrecv $(B)/sigtool $(DESTDIR)$(BINDIR)/
	install -m 0755 $(B)/portd $(B)/namesrv $(B)/keysrv $(DESTDIR)$(SBINDIR)/
	install -m 0755 contrib/masix-node $(DESTDIR)$(SBINDIR)/masix-node
	for m in $(MAN_OUT); do s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

fresh-check:
	sh contrib/fresh-check

clean:
	rm -rf build bin

# The compiler's header dependencies (-MMD), from wherever O= put the
# objects; bench programs always go to build/bench.
-include $(shell find $(O) build/bench -name '*.d' 2>/dev/null)
