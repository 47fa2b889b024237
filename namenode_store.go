// NameNode persistence: the table kept in the data directory, written atomically after each change.

package chkv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files in a NameNode's data directory: the served table and the plan.
const (
	tableFile = "table.bin"
	planFile  = "plan.bin"
)

// loadTable reads the table kept in dir under name: nil when there is none yet.
func loadTable(dir, name string) (*Table, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chkv: namenode: load table: %w", err)
	}
	t := new(Table)
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("chkv: namenode: load table from %s: %w", dir, err)
	}
	return t, nil
}

// saveTable replaces the table kept in dir with b atomically: it writes and
// syncs a temporary file, renames it over the old one and syncs the directory.
func saveTable(dir, name string, b []byte) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("chkv: namenode: save table: %w", err)
	}
	f, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return fmt.Errorf("chkv: namenode: save table: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("chkv: namenode: save table: %w", err)
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
