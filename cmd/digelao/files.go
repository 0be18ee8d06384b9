package main

import (
	"io"
	"os"
	"path/filepath"
)

// replaceFile writes name through write: into a temporary file beside it that is then given perm,
// synced, and renamed to name, and the directory synced. A crash or a failed write leaves the old
// file or the new one, never a part. write's error is returned as it is; the file's own, as a
// *fileError naming flag.
func replaceFile(flag, name string, perm os.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*.part")
	if err != nil {
		return &fileError{flag: flag, err: err}
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename; cleanup otherwise
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	err = tmp.Chmod(perm)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return &fileError{flag: flag, err: err}
	}
	return nil
}

// syncDir syncs the directory dir, so that a rename into it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
