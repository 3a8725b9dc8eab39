# pam_vault: `make` builds the three artifacts into build/, `make test` runs
# the whole suite, `make demo` shows a real OTP login through PAM.

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
CFLAGS  += -std=gnu11 -fPIC -Wall -Wextra -Werror -fstack-protector-strong \
	-D_FORTIFY_SOURCE=2 -DPAM_VAULT_SBINDIR='"$(SBINDIR)"'
LDFLAGS += -shared -Wl,--version-script=cgo/pam_vault.map -Wl,-z,relro,-z,now

BUILD   := build
GOFILES := $(shell find . -name '*.go' -not -path './test/vault/*') go.mod go.sum

.PHONY: all install uninstall test unit integration demo vault deps clean fmt

all: $(BUILD)/pam_vault.so $(BUILD)/pam_vault_go.so $(BUILD)/pam-vault-check

$(BUILD)/pam_vault.so: cgo/pam_vault.c cgo/pam_vault_engine.h cgo/pam_vault.map
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ cgo/pam_vault.c -lpam

# Go links c-shared objects with -z nodelete; it is stated here as well
# because the adapter relies on the engine never being unloaded.
$(BUILD)/pam_vault_go.so: $(GOFILES) pam_vault/loader.c cgo/pam_vault_engine.h
	@mkdir -p $(BUILD)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath \
		-ldflags='-s -w -extldflags=-Wl,-z,nodelete' -o $@ ./pam_vault
	@rm -f $(BUILD)/pam_vault_go.h

$(BUILD)/pam-vault-check: $(GOFILES)
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $@ ./cmd/pam-vault-check

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

# The pinned Vault server the tests run, built once and cached.
vault:
	@scripts/vault-bin.sh

UNIT_PKGS := ./internal/... ./cmd/...

test: deps all
	@test -z "$$(gofmt -l $$(find . -name '*.go' -not -path './test/vault/*'))" || \
		{ echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 $(UNIT_PKGS)
	set -o pipefail; VAULT_BIN="$$(scripts/vault-bin.sh)" \
		$(GO) test -count=1 -timeout 30m -v ./test/... 2>&1 | tee $(BUILD)/integration.log

demo: deps all
	@VAULT_BIN="$$(scripts/vault-bin.sh)" scripts/demo.sh

clean:
	rm -rf $(BUILD)
