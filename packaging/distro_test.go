package main

import (
	"slices"
	"testing"
)

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"1.2.0", true},
		{"1.2.0+3.gabc1234", true},
		{"1.3.0~rc1", true},
		{"0.0.0+41.g523c9e0.dirty", true},
		{"0.0.0+unknown", true},
		{"", false},
		{"v1.2.0", false},              // dpkg wants a digit first
		{"1.2.0-3-gabc1234", false},    // '-' is the Debian revision's, and no RPM version has one
		{"1:1.2.0", false},             // an epoch
		{"1.2.0 beta", false},          // a space
		{"abc1234", false},             // a bare commit hash
		{"1.2.0+3.gabc1234\n", false},  // a stray line break
		{"1.2.0_rc1", false},           // '_' is not Debian's
		{"1.2.0+dirty/../../x", false}, // a path
	} {
		if err := checkVersion(tc.version); (err == nil) != tc.ok {
			t.Errorf("checkVersion(%q) = %v, want ok %v", tc.version, err, tc.ok)
		}
	}
}

func TestNodeVersion(t *testing.T) {
	for _, tc := range []struct {
		node string
		want []int
		ok   bool
	}{
		{"GLIBC_2.34", []int{2, 34}, true},
		{"GLIBC_2.2.5", []int{2, 2, 5}, true},
		{"LIBPAM_1.0", []int{1, 0}, true},
		{"LIBPAM_EXTENSION_1.1", []int{1, 1}, true},
		{"LIBPAM_EXTENSION_1.1.1", []int{1, 1, 1}, true},
		{"GLIBC_PRIVATE", nil, false},
		{"VERS", nil, false},
		{"X_1..2", nil, false},
	} {
		got, ok := nodeVersion(tc.node)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("nodeVersion(%q) = %v, %v; want %v, %v", tc.node, got, ok, tc.want, tc.ok)
		}
	}
}
