package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write (re)writes every file of a run into dir. It is called after each
// target, so an interrupted or crashed run leaves what it measured.
func Write(dir string, run *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	files := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"manifest.json", func(b *bytes.Buffer) error { return writeJSON(b, run.Manifest) }},
		{"results.json", func(b *bytes.Buffer) error { return writeJSON(b, run) }},
		{"summary.csv", func(b *bytes.Buffer) error { return WriteCSV(b, run) }},
		{"summary.md", func(b *bytes.Buffer) error { return WriteMarkdown(b, run) }},
		{"spread.csv", func(b *bytes.Buffer) error { return WriteSpreadCSV(b, run) }},
	}
	for _, f := range files {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return fmt.Errorf("render %s: %w", f.name, err)
		}
		// Write then rename, so a reader never sees half a file.
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path+".tmp", b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

func writeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Read loads results.json from a run directory.
func Read(dir string) (*Run, error) {
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return nil, err
	}
	var run Run
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "results.json"), err)
	}
	for i := range run.Targets {
		t := &run.Targets[i]
		t.Unpinned = t.Unpinned || legacyUnpinned(t.Pinning)
	}
	return &run, nil
}

// legacyUnpinned recognises an unenforced budget in a record written before
// the unpinned field: the local runtime then appended the cgroup error to
// its pinning text only when a quota was wanted and could not be set.
func legacyUnpinned(pinning string) bool {
	return strings.Contains(pinning, "(no cgroup: budget not enforced as a quota): ")
}

// PointLatest makes results/latest a relative symlink to the run directory.
func PointLatest(runDir string) error {
	link := filepath.Join(filepath.Dir(runDir), "latest")
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(runDir), tmp); err != nil {
		return fmt.Errorf("link latest: %w", err)
	}
	return os.Rename(tmp, link)
}
