package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// neededVersions reads the ELF objects and returns, for each shared
// library they link against, the lowest library version that has every
// symbol version they use: GLIBC_2.34 asks for glibc 2.34,
// LIBPAM_EXTENSION_1.1 for Linux-PAM 1.1. A static program adds nothing.
// That is the dependency a package needs, found from what the objects
// really use rather than from the build machine's library versions.
func neededVersions(paths ...string) (map[string]string, error) {
	need := map[string][]int{}
	for _, path := range paths {
		f, err := elf.Open(path)
		if err != nil {
			return nil, err
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, lib := range libs {
			if _, ok := need[lib]; !ok {
				need[lib] = nil
			}
		}
		syms, err := f.ImportedSymbols()
		f.Close()
		if errors.Is(err, elf.ErrNoSymbols) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, s := range syms {
			if s.Library == "" || s.Version == "" {
				continue
			}
			v, ok := nodeVersion(s.Version)
			if !ok {
				return nil, fmt.Errorf("%s: symbol %s@%s: cannot read a version in %q", path, s.Name, s.Version, s.Version)
			}
			if slices.Compare(v, need[s.Library]) > 0 {
				need[s.Library] = v
			}
		}
	}
	out := map[string]string{}
	for lib, v := range need {
		if v == nil {
			return nil, fmt.Errorf("the objects link against %s without a versioned symbol; its minimum version is unknown", lib)
		}
		parts := make([]string, len(v))
		for i, n := range v {
			parts[i] = strconv.Itoa(n)
		}
		out[lib] = strings.Join(parts, ".")
	}
	return out, nil
}

// nodeVersion reads the number at the end of a symbol version node's name:
// GLIBC_2.2.5 is 2.2.5, LIBPAM_EXTENSION_1.1 is 1.1.
func nodeVersion(node string) ([]int, bool) {
	i := strings.LastIndexByte(node, '_')
	if i < 0 {
		return nil, false
	}
	var v []int
	for _, part := range strings.Split(node[i+1:], ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// sortedKeys returns m's keys in order, for a stable Depends line.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
