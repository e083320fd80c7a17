# SPDX-License-Identifier: GPL-2.0-only
# podsentry build. `make` builds everything into build/; `make check` runs
# the whole suite; `make demo` runs the built-in demo; `make bench` the
# benchmarks; `make image` the container image; `make fuzz` the fuzz
# targets. V=1 shows the commands.

BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
CNI_BIN_DIR ?= /opt/cni/bin

CLANG     ?= clang
CC        ?= gcc
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := bpf/podsentry.h $(wildcard bpf/lib/*.h)

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wextra \
	-Werror -Wno-unused-parameter -I$(BUILD) -Ibpf

# user space: three libraries. shared: what podsentry-cni and podsentryd
# both link (netlink, state files, attach, pod registration); cni: the
# plugin; node: the daemon, a folder per stage of its pipeline. The
# command-line client's modules (node/client) are not the daemon's.
SHARED_SRCS := $(wildcard netlink/*.c cni/shared/*.c)
CNI_SRCS  := $(filter-out cni/main.c,$(wildcard cni/*.c))
NODE_SRCS := $(filter-out node/client/%,$(wildcard node/*/*.c))
# podsentry, the command-line client: its commands, the record filters
# it shares with the daemon, report (the page and its graphs: Graphviz)
CLIENT_OBJS = $(patsubst %.c,$(OUT)/obj/%.o,$(wildcard node/client/*.c)) \
	$(OUT)/obj/node/records/match.o $(OUT)/obj/cni/shared/version.o
GV_LDLIBS := -lgvc -lcgraph -lcdt
USER_HDRS := $(wildcard netlink/*.h cni/*.h cni/shared/*.h node/*/*.h) bpf/podsentry.h
TEST_SRCS := $(wildcard tests/unit/test_*.c tests/bpf/test_*.c)
BENCH_SRCS := $(wildcard tests/bench/*.c)

PKG_LIBS  := libbpf libmnl json-c libelf zlib libcap-ng libseccomp
USER_CFLAGS := -g -O2 -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-D_GNU_SOURCE -I$(BUILD) -I. -Ibpf $(EXTRA_CFLAGS)
USER_LDLIBS := -lbpf -lmnl -ljson-c -lelf -lz -lcap-ng -lseccomp

# SAN=1: ASan + UBSan build of the user-space code in build/san
ifeq ($(SAN),1)
OUT := $(BUILD)/san
USER_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
USER_LDFLAGS += -fsanitize=address,undefined
else
OUT := $(BUILD)
endif

SHARED_LIB := $(OUT)/libpodsentry-shared.a
CNI_LIB   := $(OUT)/libpodsentry-cni.a
NODE_LIB  := $(OUT)/libpodsentry-node.a
LIBS      := $(NODE_LIB) $(CNI_LIB) $(SHARED_LIB)
TEST_BINS := $(patsubst tests/%.c,$(OUT)/tests/%,$(TEST_SRCS))
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(BENCH_SRCS))
PROGS     := $(OUT)/podsentryd $(if $(wildcard cni/main.c),$(OUT)/podsentry-cni) \
	$(OUT)/podsentry

.PHONY: all deps check demo bench install clean san tests image FORCE fuzz \
	fuzz-build
all: $(PROGS) $(TEST_BINS) $(BENCH_BINS)

san:
	$(Q)$(MAKE) --no-print-directory SAN=1 all

deps:
	$(Q)deploy/install-deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory SAN=1 all
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)tests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)deploy/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/run.sh

# vmlinux.h is rewritten only when the kernel's BTF changes, so a rebuild
# does not recompile every BPF object.
$(BUILD)/vmlinux.h: FORCE | $(BUILD)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; \
		echo "  GEN      $@"; fi

# version.h: the release (VERSION), the git commit (-dirty with changes
# to tracked files; "unknown" outside this git tree) and the build id of
# the BPF objects the skeletons embed. Rewritten only when it changes, so
# only version.o is rebuilt.
$(BUILD)/version.h: VERSION $(sort $(BPF_OBJS)) FORCE | $(BUILD)
	$(Q)commit=unknown; \
	if [ "$$(git -C $(CURDIR) rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ]; then \
		commit=$$(git -C $(CURDIR) rev-parse --short HEAD) && \
		if [ -n "$$(git -C $(CURDIR) status --porcelain --untracked-files=no)" ]; then \
			commit=$$commit-dirty; fi; \
	fi; \
	printf '#define PS_VERSION "%s"\n#define PS_GIT_COMMIT "%s"\n#define PS_BPF_BUILD_ID "%s"\n' \
		"$$(cat VERSION)" "$$commit" \
		"$$(cat $(sort $(BPF_OBJS)) | sha256sum | cut -c1-16)" > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; \
		echo "  GEN      $@"; fi

$(OUT)/obj/cni/shared/version.o $(OUT)/obj/node/sinks/metrics.o \
	$(OUT)/obj/node/sinks/api.o $(BUILD)/fuzz/obj/node/sinks/metrics.o \
	$(BUILD)/fuzz/obj/node/sinks/api.o: $(BUILD)/version.h

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUT)/obj/%.o: %.c $(USER_HDRS) $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(OUT)/libpodsentry-%.a:
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(SHARED_LIB): $(patsubst %.c,$(OUT)/obj/%.o,$(SHARED_SRCS))
$(CNI_LIB): $(patsubst %.c,$(OUT)/obj/%.o,$(CNI_SRCS))
$(NODE_LIB): $(patsubst %.c,$(OUT)/obj/%.o,$(NODE_SRCS))

$(OUT)/podsentryd: $(OUT)/obj/node/main.o $(NODE_LIB) $(SHARED_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LDLIBS)

$(OUT)/podsentry: $(CLIENT_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ -ljson-c -lm $(GV_LDLIBS)

$(OUT)/podsentry-cni: $(OUT)/obj/cni/main.o $(CNI_LIB) $(SHARED_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LDLIBS)

$(OUT)/tests/%: $(OUT)/obj/tests/%.o $(OUT)/obj/tests/harness.o $(LIBS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LDLIBS)

$(OUT)/bench/%: $(OUT)/obj/tests/bench/%.o $(OUT)/obj/tests/harness.o $(LIBS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LDLIBS)

$(BUILD):
	$(Q)mkdir -p $@

# the container image, FROM scratch with the binaries and the libraries
# they link (no registry needed): IMAGE_TAG=... to name it otherwise,
# IMAGE_CONTEXT=... for the folder its root filesystem is laid out in
IMAGE_TAG ?= localhost/podsentry:$(shell cat VERSION)
IMAGE_CONTEXT ?= $(BUILD)/image
image:
	$(Q)$(MAKE) --no-print-directory SAN= $(BUILD)/podsentryd $(BUILD)/podsentry-cni \
		$(BUILD)/podsentry
	$(Q)deploy/image/build.sh $(BUILD) $(IMAGE_TAG) $(IMAGE_CONTEXT)

# ---- fuzzing (libFuzzer, clang) ----
# Every tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput and is a
# target: build/fuzz/fuzz_<name>. To add one, write that file and put a
# few small hand-written inputs in tests/fuzz/corpus/<name>/ (one per
# file; an input that once crashed stays there as a regression), and
# optionally tokens in tests/fuzz/<name>.dict (libFuzzer dictionary
# syntax). It links the project's three libraries, built again here
# with the fuzzing and sanitizer flags into build/fuzz/obj, apart from
# the normal build. `make fuzz` runs every target FUZZ_SECONDS (default
# 300) on build/fuzz/corpus/<name> (seeded from the tree); the suite's
# tests/fuzz/smoke.sh runs each about 10 s. Crashing inputs are kept in
# build/fuzz/artifacts/.
FUZZ_SECONDS ?= 300
FUZZ_CC   ?= clang
FUZZ_OUT  := $(BUILD)/fuzz
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-D_GNU_SOURCE -I$(BUILD) -I. -Ibpf -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
FUZZ_LIBS := $(FUZZ_OUT)/libpodsentry-node.a $(FUZZ_OUT)/libpodsentry-cni.a \
	$(FUZZ_OUT)/libpodsentry-shared.a

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)tests/fuzz/lib-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_OUT)/corpus $(FUZZ_BINS)

$(FUZZ_OUT)/obj/%.o: %.c $(USER_HDRS) $(BPF_SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/libpodsentry-shared.a: $(patsubst %.c,$(FUZZ_OUT)/obj/%.o,$(SHARED_SRCS))
$(FUZZ_OUT)/libpodsentry-cni.a: $(patsubst %.c,$(FUZZ_OUT)/obj/%.o,$(CNI_SRCS))
$(FUZZ_OUT)/libpodsentry-node.a: $(patsubst %.c,$(FUZZ_OUT)/obj/%.o,$(NODE_SRCS))
$(FUZZ_LIBS):
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIBS)
	$(call msg,LINK,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ $(USER_LDLIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(CNI_BIN_DIR) \
		$(DESTDIR)$(PREFIX)/lib/systemd/system
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/podsentryd $(DESTDIR)$(PREFIX)/sbin/podsentryd
	install -m 0755 $(BUILD)/podsentry $(DESTDIR)$(PREFIX)/bin/podsentry
	if [ -x $(BUILD)/podsentry-cni ]; then install -m 0755 \
		$(BUILD)/podsentry-cni $(DESTDIR)$(CNI_BIN_DIR)/podsentry-cni; fi
	sed 's|@SBINDIR@|$(PREFIX)/sbin|' deploy/podsentryd.service > \
		$(DESTDIR)$(PREFIX)/lib/systemd/system/podsentryd.service

clean:
	rm -rf $(BUILD)

FORCE:
