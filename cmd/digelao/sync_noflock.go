//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import (
	"errors"
	"os"
	"runtime"
)

// errLocked is lockFile's answer when another process holds the lock.
var errLocked = errors.New("locked by another process")

// lockFile fails: without flock(2), nothing keeps a second sync from appending the same records.
func lockFile(*os.File) error {
	return errors.New("digelao sync needs flock(2) to keep one sync per output, which " + runtime.GOOS + " lacks")
}
