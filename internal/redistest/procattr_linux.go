package redistest

import "syscall"

// procAttr makes the kernel kill redis-server if the test binary dies without stopping it (for
// example on a test timeout).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
