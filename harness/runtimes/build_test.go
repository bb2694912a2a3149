package runtimes

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchharness/harness/harness/targets"
)

func TestBuildCache(t *testing.T) {
	t.Setenv("BENCH_CACHE", t.TempDir())
	dir := filepath.Join(t.TempDir(), "cachey")
	os.MkdirAll(dir, 0o755)
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("target.yaml", "name: cachey\nsources: [\"*.txt\"]\noutputs: [out/built, \"$OUT/rel/bin/app\"]\n"+
		"build: mkdir -p out \"$OUT/rel/bin\" && cp src.txt out/built && cp src.txt \"$OUT/rel/bin/app\" && echo built >> \"$OUT/count\"\n"+
		"run: [\"$OUT/rel/bin/app\"]\nhealth: /health\n")
	write("src.txt", "v1")
	m, err := targets.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		edit  func()
		built bool
	}{
		{"first build", func() {}, true},
		{"unchanged sources", func() {}, false},
		{"edited source", func() { write("src.txt", "v2") }, true},
		{"output lost (a clean clone)", func() { os.RemoveAll(filepath.Join(dir, "out")) }, true},
		{"cached again", func() {}, false},
		// The stamp lives in $OUT too, and survives this.
		{"release deleted from $OUT", func() { os.RemoveAll(filepath.Join(CacheDir(), "cachey", "rel")) }, true},
		{"cached once more", func() {}, false},
	}
	for _, s := range steps {
		s.edit()
		var log bytes.Buffer
		built, err := build(context.Background(), m, &log)
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.name, err, log.String())
		}
		if built != s.built {
			t.Fatalf("%s: built=%v, want %v (%s)", s.name, built, s.built, strings.TrimSpace(log.String()))
		}
	}
	count, _ := os.ReadFile(filepath.Join(CacheDir(), "cachey", "count"))
	if n := strings.Count(string(count), "built"); n != 4 {
		t.Fatalf("build ran %d times, want 4", n)
	}
}

func TestFailingBuildIsReported(t *testing.T) {
	t.Setenv("BENCH_CACHE", t.TempDir())
	dir := filepath.Join(t.TempDir(), "broken")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "target.yaml"), []byte("name: broken\nsources: [target.yaml]\nbuild: echo compile error here >&2; exit 3\nrun: [\"true\"]\nhealth: /health\n"), 0o644)
	m, err := targets.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if _, err := build(context.Background(), m, &log); err == nil || !strings.Contains(err.Error(), "build broken") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(log.String(), "compile error here") {
		t.Fatalf("build output not logged: %q", log.String())
	}
}

// A changed dependency must change phoenix's build stamp, so the release is
// rebuilt: its sources cover deps/. Run on a fixture, nothing is fetched.
func TestPhoenixDependencyEditChangesTheStamp(t *testing.T) {
	m, err := targets.Load(filepath.Join("..", "..", "targets", "phoenix"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m.Dir = dir
	dep := filepath.Join(dir, "deps", "plug", "lib", "plug", "conn.ex")
	if err := os.MkdirAll(filepath.Dir(dep), 0o755); err != nil {
		t.Fatal(err)
	}
	hashWith := func(body string) string {
		t.Helper()
		if err := os.WriteFile(dep, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		sum, err := sourceHash(m)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	if hashWith("defmodule Plug.Conn do end") == hashWith("defmodule Plug.Conn do @moduledoc false end") {
		t.Fatal("editing deps/plug left the build stamp unchanged")
	}
}

// A target's release size is the apparent size of the files its release
// lists, $OUT expanded, folders walked, symlinks not followed.
func TestReleaseSize(t *testing.T) {
	t.Setenv("BENCH_CACHE", t.TempDir())
	dir := t.TempDir()
	m := &targets.Manifest{Name: "rel", Dir: dir, Release: []string{"$OUT/rel", "static/app.js"}}
	out := filepath.Join(CacheDir(), "rel")
	files := map[string]int{"rel/bin/app": 3 << 20, "rel/lib/a/x.beam": 1 << 20, "build-junk": 8 << 20}
	for name, size := range files {
		p := filepath.Join(out, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "static"), 0o755)
	os.WriteFile(filepath.Join(dir, "static", "app.js"), make([]byte, 1<<19), 0o644)
	// A link to the junk must not pull it in.
	os.Symlink(filepath.Join(out, "build-junk"), filepath.Join(out, "rel", "junk-link"))

	got, err := ReleaseSizeMB(m)
	if err != nil {
		t.Fatal(err)
	}
	if got != 4.5 {
		t.Fatalf("release size %.3f MB, want 4.5 (3 + 1 + 0.5, not the 8 MB outside it)", got)
	}
	m.Release = append(m.Release, "$OUT/missing")
	if _, err := ReleaseSizeMB(m); err == nil || !strings.Contains(err.Error(), "$OUT/missing") {
		t.Fatalf("a missing release path: %v, want an error naming it", err)
	}
}
