//go:build !linux

package redistest

import "syscall"

// procAttr has no parent-death signal outside Linux: a test binary killed without running its
// cleanup leaves the server running.
func procAttr() *syscall.SysProcAttr { return nil }
