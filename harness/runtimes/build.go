package runtimes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/benchharness/harness/harness/targets"
)

// CacheDir is where builds live, outside the repository so a clean clone
// reuses them: $BENCH_CACHE, else ~/.cache/bench-harness.
func CacheDir() string {
	if d := os.Getenv("BENCH_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "bench-harness")
	}
	return filepath.Join(os.TempDir(), "bench-harness")
}

// buildEnv is the environment of a target's build and run commands.
func buildEnv(m *targets.Manifest) map[string]string {
	cache := CacheDir()
	env := map[string]string{
		"OUT":              filepath.Join(cache, m.Name),
		"TARGET_DIR":       m.Dir,
		"CARGO_TARGET_DIR": filepath.Join(cache, "cargo-target"),
	}
	if v := os.Getenv("CARGO_TARGET_DIR"); v != "" {
		env["CARGO_TARGET_DIR"] = v
	}
	for k, v := range m.Env {
		env[k] = v
	}
	return env
}

func environ(extra map[string]string) []string {
	env := os.Environ()
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// sourceHash covers the manifest and every file its sources globs match
// (a trailing /** matches a whole tree), so an edit forces a rebuild.
func sourceHash(m *targets.Manifest) (string, error) {
	h := sha256.New()
	h.Write(m.Raw)
	var files []string
	for _, g := range m.Sources {
		if dir, ok := strings.CutSuffix(g, "/**"); ok {
			err := filepath.WalkDir(filepath.Join(m.Dir, dir), func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return "", err
			}
			continue
		}
		matches, err := filepath.Glob(filepath.Join(m.Dir, g))
		if err != nil {
			return "", fmt.Errorf("sources glob %q: %w", g, err)
		}
		files = append(files, matches...)
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(m.Dir, f)
		fmt.Fprintf(h, "\x00%s\x00", rel)
		fh, err := os.Open(f)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// build runs the manifest's build unless the stamp of the last successful
// build matches the sources. It reports whether it built.
func build(ctx context.Context, m *targets.Manifest, log io.Writer) (bool, error) {
	env := buildEnv(m)
	out := env["OUT"]
	if err := os.MkdirAll(out, 0o755); err != nil {
		return false, fmt.Errorf("create build dir: %w", err)
	}
	sum, err := sourceHash(m)
	if err != nil {
		return false, fmt.Errorf("hash sources of %s: %w", m.Name, err)
	}
	stamp := filepath.Join(out, ".build-stamp")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == sum && outputsExist(m, env) {
		fmt.Fprintf(log, "== build of %s is up to date (%s)\n", m.Name, sum[:12])
		return false, nil
	}
	fmt.Fprintf(log, "== build %s: %s\n", m.Name, m.Build)
	cmd := exec.CommandContext(ctx, "sh", "-c", m.Build)
	cmd.Dir = m.Dir
	cmd.Env = environ(env)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return true, fmt.Errorf("build %s: %w", m.Name, err)
	}
	return true, os.WriteFile(stamp, []byte(sum), 0o644)
}

// ReleaseSizeMB is the total size (MiB, apparent bytes of regular files,
// symlinks not followed) of what the manifest's release lists, once built;
// 0 when it lists nothing.
func ReleaseSizeMB(m *targets.Manifest) (float64, error) {
	env := buildEnv(m)
	var total int64
	for _, r := range m.Release {
		p := expandPath(m, env, r)
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				info, err := d.Info()
				if err != nil {
					return err
				}
				total += info.Size()
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("size of %s's release (%s): %w", m.Name, r, err)
		}
	}
	return float64(total) / (1 << 20), nil
}

// expandPath expands a manifest path ($OUT etc.), relative to the target's folder.
func expandPath(m *targets.Manifest, env map[string]string, path string) string {
	p := os.Expand(path, func(k string) string { return env[k] })
	if !filepath.IsAbs(p) {
		p = filepath.Join(m.Dir, p)
	}
	return p
}

// outputsExist checks the manifest's outputs ($OUT etc. expanded, relative
// to the target folder).
func outputsExist(m *targets.Manifest, env map[string]string) bool {
	for _, o := range m.Outputs {
		if _, err := os.Stat(expandPath(m, env, o)); err != nil {
			return false
		}
	}
	return true
}
