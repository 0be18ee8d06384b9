package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// replaceFile writes name through write: into a temporary file beside it that is then given perm,
// synced, and renamed to name, and the directory synced. A crash or a failed write leaves the old
// file or the new one, never a part. Errors name name, never the temporary file: write's error is
// returned as it is unless it is the temporary file's own (a full disk); the file's errors, as a
// *fileError naming flag.
func replaceFile(flag, name string, perm os.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*.part")
	if err != nil {
		return &fileError{flag: flag, err: &fs.PathError{Op: "create", Path: name, Err: underlying(err)}}
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename; cleanup otherwise
	renamed := func(err error) error { return &tempFileError{err: err, tmp: tmp.Name(), name: name} }
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == tmp.Name() {
			return &fileError{flag: flag, err: renamed(err)}
		}
		return renamed(err)
	}
	err = tmp.Chmod(perm)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Rename(tmp.Name(), name); err != nil {
			err = &fs.PathError{Op: "rename to", Path: name, Err: underlying(err)}
		}
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return &fileError{flag: flag, err: renamed(err)}
	}
	return nil
}

// maxLinks is how many symbolic links resolveLinks follows before it gives up (Linux's own limit).
const maxLinks = 40

// resolveLinks follows name while it is a symbolic link, a dangling one included, and returns the
// path it ends at: what a write to name would write.
func resolveLinks(name string) (string, error) {
	for range maxLinks {
		fi, err := os.Lstat(name)
		switch {
		case errors.Is(err, fs.ErrNotExist), err == nil && fi.Mode()&os.ModeSymlink == 0:
			return name, nil
		case err != nil:
			return "", err
		}
		link, err := os.Readlink(name)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(name), link)
		}
		name = link
	}
	return "", &fs.PathError{Op: "open", Path: name, Err: errors.New("too many levels of symbolic links")}
}

// underlying is the system's error inside a *fs.PathError or *os.LinkError, without the paths.
func underlying(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// tempFileError is an error whose text names the file being written where it named the
// temporary file beside it, which the user never sees.
type tempFileError struct {
	err       error
	tmp, name string
}

func (e *tempFileError) Error() string { return strings.ReplaceAll(e.err.Error(), e.tmp, e.name) }
func (e *tempFileError) Unwrap() error { return e.err }

// syncDir syncs the directory dir, so that a rename into it survives a crash. Windows cannot sync
// a directory (NTFS journals the rename itself): there it does nothing.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
