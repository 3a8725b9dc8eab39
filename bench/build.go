package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// tools are the programs the benchmark runs.
type tools struct {
	adapter    string // build/pam_vault.so
	engine     string // build/pam_vault_go.so
	helper     string // build/pam-vault-check
	login      string // the libpam driver (drivers/login.c)
	engineLoad string // the engine loading driver (drivers/engineload.c)
	floor      string // the network floor (floor/)
	rawFloor   string // the floor without Go, http only (drivers/rawfloor.c)
	stages     string // the stage timer (stages/)
}

// buildTools checks that `make all` has built pam_vault and compiles the
// benchmark's own programs into build/bench/.
func buildTools(root string) (*tools, error) {
	build := filepath.Join(root, "build")
	out := filepath.Join(build, "bench")
	t := &tools{
		adapter:    filepath.Join(build, "pam_vault.so"),
		engine:     filepath.Join(build, "pam_vault_go.so"),
		helper:     filepath.Join(build, "pam-vault-check"),
		login:      filepath.Join(out, "login"),
		engineLoad: filepath.Join(out, "engineload"),
		floor:      filepath.Join(out, "floor"),
		rawFloor:   filepath.Join(out, "rawfloor"),
		stages:     filepath.Join(out, "stages"),
	}
	for _, f := range []string{t.adapter, t.engine, t.helper} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w (run make first)", err)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	benchDir := filepath.Join(root, "bench")
	cflags := []string{"-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", filepath.Join(root, "test", "include")}
	steps := [][]string{
		append(append([]string{cc}, cflags...), "-o", t.login, filepath.Join(benchDir, "drivers", "login.c"), "-lpam"),
		append(append([]string{cc}, cflags...), "-o", t.rawFloor, filepath.Join(benchDir, "drivers", "rawfloor.c")),
		append(append([]string{cc}, cflags...), "-I", filepath.Join(root, "cgo"), "-o", t.engineLoad,
			filepath.Join(benchDir, "drivers", "engineload.c"), "-ldl"),
		// Built as the engine and the helper are: trimmed, stripped.
		{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", t.floor, "./floor"},
		{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", t.stages, "./stages"},
	}
	for _, s := range steps {
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Dir = benchDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%v: %w\n%s", s, err, out)
		}
	}
	return t, nil
}

// objectSize is the size of one built file.
type objectSize struct {
	name  string
	bytes int64
	note  string
}

// objectSizes lists the size of each object pam_vault installs, and of the
// floor program for comparison.
func objectSizes(root string, t *tools) ([]objectSize, error) {
	var out []objectSize
	for _, f := range []struct{ path, note string }{
		{t.adapter, "PAM adapter (C), loaded by libpam at pam_start"},
		{t.engine, "Go engine (c-shared), dlopened on first pam_authenticate"},
		{t.helper, "helper / CLI (static Go), exec'd per login on the helper path"},
		{t.floor, "floor: bare Go verify client (for comparison; not installed)"},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(root, f.path)
		out = append(out, objectSize{name: rel, bytes: fi.Size(), note: f.note})
	}
	return out, nil
}

// cleanup runs registered functions once, last added first.
type cleanup struct {
	mu   sync.Mutex
	fns  []func()
	done bool
}

// newCleanup returns an empty cleanup list.
func newCleanup() *cleanup { return &cleanup{} }

// add registers fn to run at clean-up.
func (c *cleanup) add(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, fn)
}

// run runs the registered functions, once.
func (c *cleanup) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
}
