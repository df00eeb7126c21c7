# etcd-k8s-operator — one library (libetcdop) and three programs on it.
#
#   make            build build/kubectl-etcd, build/etcd-webhook, build/etcd-controller, build/etcd-certs,
#                   build/etcd-member-guard
#   make test       install what is missing, then every test (unit, sanitizers, integration, e2e)
#   make demo       install what is missing, then scale an etcd cluster 1 → 3 → 1 on the test bed
#   make bench      the benchmarks (figures and ratios, never pass/fail on speed)
#   make install PREFIX=/usr/local   puts kubectl-etcd on PATH so `kubectl etcd` works
#   make image      the operator's OCI image from those binaries, no daemon (scripts/image.py):
#                   BUILD/image/oci (layout), etcd-operator.oci.tar, sbom.spdx.json, digest
#   make release    dist/: install.yaml (image pinned by digest), the image, its SBOM, the krew
#                   archive and manifest, etcd-certs, SHA256SUMS (scripts/release.sh)
#
# Out-of-tree builds: make BUILD=/tmp/b.  Sanitizers: make SAN=1 BUILD=build/san.

BUILD   ?= build
PREFIX  ?= /usr/local
# gnutls: libmicrohttpd's TLS library; its certificate callback (the webhook's
# hot reload) hands out GnuTLS types. Debian's libmicrohttpd-dev brings it.
PKGS    := libcurl json-c libmicrohttpd gnutls openssl yaml-0.1
CC      ?= cc

# The version of everything built here (scripts/version.sh: git describe,
# or 0.0.0-unknown outside git); `make VERSION=1.2.3` overrides it. It reaches
# the C code as EO_VERSION through a generated header, rewritten only when the
# version changes, so a new commit rebuilds the few files that include it.
VERSION := $(or $(shell scripts/version.sh 2>/dev/null),0.0.0-unknown)
VERSION_H := $(BUILD)/gen/eo_version.h
# The commit built from (`kubectl etcd version`); "unknown" outside git.
COMMIT := $(or $(shell git rev-parse --short=12 HEAD 2>/dev/null),unknown)$(if $(shell git status --porcelain --untracked-files=no 2>/dev/null),-dirty)

# -Wno-format-truncation: messages are cut to fixed-size buffers on purpose
# (struct eo_err, the parsed EtcdCluster); every such cut is bounded.
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -g -O2 \
	      $(addprefix -Ishared/,$(ROOMS)) -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
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

# libetcdop's rooms, in the order they may use each other: a room uses the
# rooms before it, never one after (scripts/check-rooms.sh, run by make test;
# docs/architecture.md). Headers are included by name, each room on the path.
ROOMS    := base api policy decide kube etcd s3
LIB_SRCS := $(foreach r,$(ROOMS),$(wildcard shared/$(r)/*.c))
LIB      := $(BUILD)/libetcdop.a

# program directory → binary name (fixed names: DESIGN §2)
PROG_DIRS := plugin webhook controller certs
bin_plugin     := kubectl-etcd
bin_webhook    := etcd-webhook
bin_controller := etcd-controller
bin_certs      := etcd-certs
BINS := $(foreach d,$(PROG_DIRS),$(BUILD)/$(bin_$(d)))
# `kubectl etcd install generate` prints manifests/ (compiled in from a
# generated C file) with certificates made by libcerts (etcd-certs' code).
gen_objs_plugin  := $(BUILD)/obj/gen/install_manifests.o
link_libs_plugin := $(BUILD)/libcerts.a

# The guard before every etcd start (controller/guard_main.c) runs in etcd's
# distroless container, so it is static and made of libc, eo and log only —
# no libetcdop (curl, OpenSSL). ASan cannot link statically: the sanitizer
# build makes it dynamic, for the tests alone.
GUARD      := $(BUILD)/etcd-member-guard
GUARD_SRCS := controller/guard_main.c controller/member_guard.c controller/member_files.c \
	      shared/base/eo.c shared/base/log.c shared/base/term.c
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

.PHONY: all test unit-bins integ-bins model-bins demo bench install clean deps fuzz version FORCE image release
all: $(BINS) $(GUARD)

version:
	@echo $(VERSION)

$(VERSION_H): FORCE
	@mkdir -p $(dir $@)
	@printf '/* generated by the Makefile from scripts/version.sh and git */\n#define EO_VERSION "%s"\n#define EO_COMMIT "%s"\n' '$(VERSION)' '$(COMMIT)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; echo "version $(VERSION) → $@"; fi

deps:
	@scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c | $(VERSION_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(call obj,$(LIB_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define prog_rules
$(BUILD)/lib$(1).a: $(call obj,$(call prog_srcs,$(1))) $(gen_objs_$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
$(BUILD)/$(bin_$(1)): $(call obj,$(1)/main.c) $(BUILD)/lib$(1).a $(link_libs_$(1)) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $$@ $$^ $(LDLIBS_BASE)
endef
$(foreach d,$(PROG_DIRS),$(eval $(call prog_rules,$(d))))

# manifests/ as a C string, in kustomize's order (scripts/embed-manifests.sh)
$(BUILD)/gen/install_manifests.c: scripts/embed-manifests.sh $(wildcard manifests/kustomization.yaml manifests/*/*.yaml)
	@mkdir -p $(dir $@)
	scripts/embed-manifests.sh manifests $@
# (its path in the debug info is written without BUILD, so the binary, and
# the image made of it, is the same whichever BUILD directory it was made in)
$(BUILD)/obj/gen/install_manifests.o: $(BUILD)/gen/install_manifests.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -ffile-prefix-map=$(BUILD)/= -c $< -o $@

$(GUARD): $(call obj,$(GUARD_SRCS))
	$(CC) $(ALL_LDFLAGS) $(GUARD_STATIC) -o $@ $^

# The EtcdCluster CRD inside kubectl-etcd, for `validate` (its schema:
# unknown fields and types, as the API server checks them). Built without
# manifests/ (the image build), it is empty and validate says so.
CRD_YAML := manifests/crd/etcd.k8s-operator.io_etcdclusters.yaml
CRD_H := $(BUILD)/gen/pl_crd.h
$(CRD_H): $(wildcard $(CRD_YAML))
	@mkdir -p $(dir $@)
	@{ echo '/* generated by make from $(CRD_YAML) */'; \
	   echo 'static const char PL_CRD_YAML[] ='; \
	   if [ -f $(CRD_YAML) ]; then \
	     sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $(CRD_YAML); \
	   else echo '""'; fi; \
	   echo ';'; } > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/plugin/validate.o: $(CRD_H)
$(BUILD)/obj/plugin/validate.o: ALL_CFLAGS += -I$(BUILD)/gen

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

# The image: reproducible, so its created time is the commit's, not now
# (SOURCE_DATE_EPOCH from the environment wins, as reproducible-builds.org says).
IMAGE_NAME        ?= ghcr.io/etcd-k8s-operator/etcd-operator
SOURCE_DATE_EPOCH ?= $(or $(shell git log -1 --format=%ct 2>/dev/null),0)
GIT_REVISION      := $(or $(shell git rev-parse HEAD 2>/dev/null),unknown)
image: all
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) python3 scripts/image.py --build $(BUILD) --out $(BUILD)/image \
		--name $(IMAGE_NAME) --version $(VERSION) --revision $(GIT_REVISION)

DIST ?= dist
release: image
	scripts/release.sh $(BUILD) $(DIST)

install: $(BUILD)/kubectl-etcd
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/kubectl-etcd $(DESTDIR)$(PREFIX)/bin/kubectl-etcd
	install -m 0755 plugin/kubectl_complete-etcd $(DESTDIR)$(PREFIX)/bin/kubectl_complete-etcd

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
