# pam_vault: `make` builds the three artifacts into build/, `make test` runs
# the whole suite, `make demo` shows real OTP and TOTP logins through PAM.

PREFIX  ?= /usr
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
# The PAM module directory: where this system keeps pam_unix.so (Debian's
# multiarch directory, or RHEL's lib64), else /lib/security.
PAMDIR  ?= $(patsubst %/,%,$(dir $(firstword $(wildcard \
	/usr/lib/*/security/pam_unix.so /usr/lib64/security/pam_unix.so \
	/lib/*/security/pam_unix.so /lib64/security/pam_unix.so) \
	/lib/security/pam_unix.so)))

SHELL   := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO      ?= go
CC      ?= gcc
CFLAGS  ?= -O2 -g
# What the adapter needs whatever CFLAGS and LDFLAGS a packager passes: a
# shared object exporting only the pam_sm_* functions, strict warnings, and
# the directory it finds the helper in.
ADAPTER_CFLAGS  = -std=gnu11 -fPIC -Wall -Wextra -Werror -DPAM_VAULT_SBINDIR='"$(SBINDIR)"'
ADAPTER_LDFLAGS = -shared -Wl,--version-script=cgo/pam_vault.map
HARDENING       = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wl,-z,relro,-z,now

BUILD   := build
# HTTP/2 is never used (the engine's transport dials TLS itself and offers
# no ALPN), so net/http is built without it: a smaller engine and helper
# (docs/bench/RESULTS.md).
GOTAGS  := nethttpomithttp2
GOFILES := $(shell find . -name '*.go' -not -path './test/vault/*' -not -path './bench/*' \
	-not -path './packaging/*') go.mod go.sum
# The one version string (scripts/version.sh says how it is made): what
# `pam-vault-check -version` prints and what the packages are called.
VERSION := $(shell scripts/version.sh)

.PHONY: all install uninstall test unit integration demo vault step-ca deps clean fmt \
	asan sanitize fuzz bench package docker-test container-test FORCE

all: $(BUILD)/pam_vault.so $(BUILD)/pam_vault_go.so $(BUILD)/pam-vault-check

# SBINDIR is compiled into the adapter (where it finds the helper), so a
# change of it must rebuild the adapter: the stamp holds the last value.
$(BUILD)/sbindir: FORCE
	@mkdir -p $(BUILD)
	@echo '$(SBINDIR)' | cmp -s - $@ || echo '$(SBINDIR)' > $@

# Likewise the version, compiled into pam-vault-check.
$(BUILD)/version: FORCE
	@mkdir -p $(BUILD)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@

$(BUILD)/pam_vault.so: cgo/pam_vault.c cgo/pam_vault_engine.h cgo/pam_vault.map $(BUILD)/sbindir
	$(CC) $(CFLAGS) $(HARDENING) $(ADAPTER_CFLAGS) $(LDFLAGS) $(ADAPTER_LDFLAGS) -o $@ cgo/pam_vault.c -lpam

# Go links c-shared objects with -z nodelete; it is stated here as well
# because the adapter relies on the engine never being unloaded.
$(BUILD)/pam_vault_go.so: $(GOFILES) pam_vault/loader.c cgo/pam_vault_engine.h
	@mkdir -p $(BUILD)
	CGO_ENABLED=1 $(GO) build -tags $(GOTAGS) -buildmode=c-shared -trimpath \
		-ldflags='-s -w -extldflags=-Wl,-z,nodelete' -o $@ ./pam_vault
	@rm -f $(BUILD)/pam_vault_go.h

$(BUILD)/pam-vault-check: $(GOFILES) $(BUILD)/version
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -tags $(GOTAGS) -trimpath -ldflags='-s -w -X main.version=$(VERSION)' \
		-o $@ ./cmd/pam-vault-check

# AddressSanitizer and UndefinedBehaviorSanitizer builds, for `make
# sanitize`: the adapter, the engine (go build -asan instruments its cgo
# part and reports Go heap misuse to the same runtime), the helper it finds
# beside itself (pure Go, copied), and the fork harness.
ASAN      := $(BUILD)/asan
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1 -g

asan: $(ASAN)/pam_vault.so $(ASAN)/pam_vault_go.so $(ASAN)/pam-vault-check $(ASAN)/forkharness

$(ASAN)/pam_vault.so: cgo/pam_vault.c cgo/pam_vault_engine.h cgo/pam_vault.map $(BUILD)/sbindir
	@mkdir -p $(ASAN)
	$(CC) $(SANFLAGS) $(ADAPTER_CFLAGS) $(ADAPTER_LDFLAGS) -o $@ cgo/pam_vault.c -lpam

$(ASAN)/pam_vault_go.so: $(GOFILES) pam_vault/loader.c cgo/pam_vault_engine.h
	@mkdir -p $(ASAN)
	CGO_ENABLED=1 $(GO) build -asan -tags $(GOTAGS) -buildmode=c-shared -trimpath \
		-ldflags='-extldflags=-Wl,-z,nodelete' -o $@ ./pam_vault
	@rm -f $(ASAN)/pam_vault_go.h

$(ASAN)/pam-vault-check: $(BUILD)/pam-vault-check
	@mkdir -p $(ASAN)
	cp $< $@

$(ASAN)/forkharness: test/pamtester/testdata/forkharness.c test/include/harness.h
	@mkdir -p $(ASAN)
	$(CC) -Wall -Wextra -Werror $(SANFLAGS) -Itest/include -o $@ $< -lpam

# Real logins through build/asan/ against a real Vault; any sanitizer report
# fails (test/leak/sanitize_test.go).
sanitize: deps asan
	VAULT_BIN="$$(scripts/vault-bin.sh)" $(GO) test -count=1 -v -run '^TestSanitizers$$' ./test/leak/

# Runs every fuzz target of the internal packages for FUZZTIME each; a
# failing input is written to the package's testdata/fuzz/ to be kept as a
# regression seed once fixed.
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
		list=$$($(GO) test -list '^Fuzz' $$pkg); \
		for target in $$list; do \
			case $$target in Fuzz*) ;; *) continue ;; esac; \
			echo ">>> fuzz $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

install: all
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(BUILD)/pam_vault.so $(BUILD)/pam_vault_go.so $(DESTDIR)$(PAMDIR)/
	install -m 0755 $(BUILD)/pam-vault-check $(DESTDIR)$(SBINDIR)/
	install -m 0644 doc/pam_vault.8 doc/pam-vault-check.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(PAMDIR)/pam_vault.so $(DESTDIR)$(PAMDIR)/pam_vault_go.so \
		$(DESTDIR)$(SBINDIR)/pam-vault-check \
		$(DESTDIR)$(MANDIR)/man8/pam_vault.8 $(DESTDIR)$(MANDIR)/man8/pam-vault-check.8

deps:
	@scripts/install-deps.sh

# build/pam-vault_$(VERSION)_amd64.deb and build/pam-vault-$(VERSION)-1.x86_64.rpm,
# made by packaging/ (a Go module of its own, around nfpm). The packages put
# pam-vault-check in /usr/sbin, so the adapter is built for that path
# whatever SBINDIR says, and stripped as both distributions want.
package:
	@$(MAKE) --no-print-directory all SBINDIR=/usr/sbin
	@mkdir -p $(BUILD)/package
	strip --strip-unneeded --remove-section=.comment --remove-section=.note \
		-o $(BUILD)/package/pam_vault.so $(BUILD)/pam_vault.so
	cd packaging && $(GO) run . -version='$(VERSION)' -root=.. \
		-adapter=$(BUILD)/package/pam_vault.so -out=$(BUILD)

# The pinned Vault server the tests run, built once and cached.
vault:
	@scripts/vault-bin.sh

# The pinned step-ca the certificate tests (test/sshcert) run as a second
# SSH CA, built once and cached.
step-ca:
	@scripts/step-ca-bin.sh

UNIT_PKGS := ./internal/... ./cmd/...

GO_SOURCES = $$(find . -name '*.go' -not -path './test/vault/*')

# The whole suite: static checks, unit tests with the race detector, fuzzing,
# sanitizers, every integration test against a real Vault, then the
# integration suites again in Debian 12 and 13 containers. Each phase says
# how long it took (scripts/timed.sh).
TEST_PHASES := unit fuzz sanitize integration docker-test

test: deps all
	@test -z "$$(gofmt -l $(GO_SOURCES))" || \
		{ echo "gofmt needed:"; gofmt -l $(GO_SOURCES); exit 1; }
	$(GO) vet ./...
	cd packaging && $(GO) vet ./...
	@for phase in $(TEST_PHASES); do \
		scripts/timed.sh "make $$phase" $(MAKE) --no-print-directory $$phase || exit 1; \
	done

# internal/testvault's own tests start a real Vault, so unit needs one too.
unit:
	VAULT_BIN="$$(scripts/vault-bin.sh)" $(GO) test -race -count=1 $(UNIT_PKGS)
	cd packaging && $(GO) test -count=1 ./...

integration: all package
	set -o pipefail; VAULT_BIN="$$(scripts/vault-bin.sh)" STEP_CA_BIN="$$(scripts/step-ca-bin.sh)" \
		$(GO) test -count=1 -timeout 30m -v -skip '^TestSanitizers$$' ./test/... 2>&1 | tee $(BUILD)/integration.log

# The integration suites in containers of Debian 12 (OpenSSH 9.2, libpam
# 1.5) and Debian 13 (OpenSSH 10.0, libpam 1.7), built from Dockerfile.test
# with no registry and no network (scripts/docker-test.sh). Without Docker it
# skips, unless CI is set: then it fails.
DOCKER_SUITES ?= bookworm trixie

docker-test:
	@scripts/docker-test.sh $(DOCKER_SUITES)

# What a test container runs (Dockerfile.test's command): the integration
# suites that need neither Docker nor the host's package tools.
CONTAINER_TESTS := ./test/pamtester ./test/sshd ./test/sshcert ./test/localsvc ./test/security

container-test: all
	VAULT_BIN="$$(scripts/vault-bin.sh)" STEP_CA_BIN="$$(scripts/step-ca-bin.sh)" \
		$(GO) test -count=1 -timeout 30m -v $(CONTAINER_TESTS)

fmt:
	gofmt -w $(GO_SOURCES)

demo: deps all
	@VAULT_BIN="$$(scripts/vault-bin.sh)" scripts/demo.sh

clean:
	rm -rf $(BUILD)

# Benchmarks (bench/, a Go module of its own): per-login latency of the
# in-process engine, the helper and the network floor, memory, object sizes
# and logins per second through sshd, against a local Vault. Prints a table
# and writes docs/bench/RESULTS.md and docs/bench/latency.png. Needs root
# (sshd); takes a few minutes.
# BENCH_FLAGS passes options to the benchmark, e.g. -baseline DIR to
# measure another build's token-to-verdict paths beside this one's.
bench: deps all
	cd bench && VAULT_BIN="$$(../scripts/vault-bin.sh)" $(GO) run . -root .. $(BENCH_FLAGS)
