# etcd-k8s-operator — one library (libetcdop) and three programs on it.
#
#   make            build build/kubectl-etcd, build/etcd-webhook, build/etcd-controller, build/etcd-certs,
#                   build/etcd-member-guard
#   make test       install what is missing, then every test (unit, sanitizers, integration, e2e)
#   make demo       install what is missing, then scale an etcd cluster 1 → 3 → 1 on the test bed
#   make bench      the benchmarks (figures and ratios, never pass/fail on speed)
#   make install PREFIX=/usr/local   puts kubectl-etcd on PATH so `kubectl etcd` works
#
# Out-of-tree builds: make BUILD=/tmp/b.  Sanitizers: make SAN=1 BUILD=build/san.

BUILD   ?= build
PREFIX  ?= /usr/local
# gnutls: libmicrohttpd's TLS library; its certificate callback (the webhook's
# hot reload) hands out GnuTLS types. Debian's libmicrohttpd-dev brings it.
PKGS    := libcurl json-c libmicrohttpd gnutls openssl yaml-0.1
CC      ?= cc

# -Wno-format-truncation: messages are cut to fixed-size buffers on purpose
# (struct eo_err, the parsed EtcdCluster); every such cut is bounded.
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -g -O2 \
	      -Ishared $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS_BASE = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
ifeq ($(WERROR),1)
CFLAGS_BASE += -Werror
endif

CFLAGS  ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

LIB_SRCS := $(wildcard shared/*.c)
LIB      := $(BUILD)/libetcdop.a

# program directory → binary name (fixed names: DESIGN §2)
PROG_DIRS := plugin webhook controller certs
bin_plugin     := kubectl-etcd
bin_webhook    := etcd-webhook
bin_controller := etcd-controller
bin_certs      := etcd-certs
BINS := $(foreach d,$(PROG_DIRS),$(BUILD)/$(bin_$(d)))

# The guard before every etcd start (controller/guard_main.c) runs in etcd's
# distroless container, so it is static and made of libc, eo and log only —
# no libetcdop (curl, OpenSSL). ASan cannot link statically: the sanitizer
# build makes it dynamic, for the tests alone.
GUARD      := $(BUILD)/etcd-member-guard
GUARD_SRCS := controller/guard_main.c controller/member_guard.c controller/member_files.c \
	      shared/eo.c shared/log.c shared/term.c
ifeq ($(SAN),1)
GUARD_STATIC :=
else
GUARD_STATIC := -static
endif

# Each program's non-main objects also go into an archive so tests can link them
# (a <x>_main.c is another program's main: controller/guard_main.c).
prog_srcs = $(filter-out $(1)/main.c $(1)/%_main.c,$(wildcard $(1)/*.c))
PROG_LIBS := $(foreach d,$(PROG_DIRS),$(BUILD)/lib$(d).a)

UNIT_SRCS  := $(wildcard test/unit/test_*.c)
UNIT_BINS  := $(patsubst test/unit/%.c,$(BUILD)/test/unit/%,$(UNIT_SRCS))
INTEG_SRCS := $(wildcard test/integration/test_*.c)
INTEG_BINS := $(patsubst test/integration/%.c,$(BUILD)/test/integration/%,$(INTEG_SRCS))
HELPER_SRCS := $(wildcard test/helpers/*.c)
MODEL_SRCS := $(wildcard test/model/*.c)
MODEL_BIN  := $(BUILD)/test/model/check_scaling

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

.PHONY: all test unit-bins integ-bins model-bins demo bench install clean deps fuzz
all: $(BINS) $(GUARD)

deps:
	@scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(call obj,$(LIB_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define prog_rules
$(BUILD)/lib$(1).a: $(call obj,$(call prog_srcs,$(1)))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(bin_$(1)): $(call obj,$(1)/main.c) $(BUILD)/lib$(1).a $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $$@ $$^ $(LDLIBS_BASE)
endef
$(foreach d,$(PROG_DIRS),$(eval $(call prog_rules,$(d))))

$(GUARD): $(call obj,$(GUARD_SRCS))
	$(CC) $(ALL_LDFLAGS) $(GUARD_STATIC) -o $@ $^

# The commit kubectl-etcd was built from (`kubectl etcd version`): a header
# rewritten only when the commit changes, so an unchanged tree rebuilds
# nothing; "unknown" outside git (the image build).
COMMIT_H := $(BUILD)/gen/pl_commit.h
$(COMMIT_H): FORCE
	@mkdir -p $(dir $@)
	@c=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	 printf '#define PL_COMMIT "%s"\n' "$$c" > $@.tmp; \
	 if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/plugin/version.o: $(COMMIT_H)
$(BUILD)/obj/plugin/version.o: ALL_CFLAGS += -I$(BUILD)/gen
.PHONY: FORCE
FORCE:

TEST_LINK = $(PROG_LIBS) $(LIB)

$(BUILD)/test/unit/%: $(BUILD)/obj/test/unit/%.o $(call obj,$(HELPER_SRCS)) $(TEST_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_BASE) $(CMOCKA_LIBS)
$(BUILD)/test/integration/%: $(BUILD)/obj/test/integration/%.o $(call obj,$(HELPER_SRCS)) $(TEST_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_BASE) $(CMOCKA_LIBS)

# The scaling decision's bounded model checker (test/model/README.md).
$(MODEL_BIN): $(call obj,$(MODEL_SRCS)) $(TEST_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

unit-bins: $(UNIT_BINS)
integ-bins: $(INTEG_BINS)
model-bins: $(MODEL_BIN)

# The README's test command. It installs what is missing first, then runs
# every suite through one runner that ends with the summary line.
test:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory WERROR=1 all unit-bins integ-bins model-bins
	@$(MAKE) --no-print-directory WERROR=1 SAN=1 BUILD=$(BUILD)/san unit-bins integ-bins model-bins
	@test/run.sh $(BUILD)

demo:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

bench:
	@scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory all
	@bench/run.sh $(BUILD)

install: $(BUILD)/kubectl-etcd
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/kubectl-etcd $(DESTDIR)$(PREFIX)/bin/kubectl-etcd
	install -m 0755 plugin/kubectl_complete-etcd $(DESTDIR)$(PREFIX)/bin/kubectl_complete-etcd

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
