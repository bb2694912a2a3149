package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary be the harness: with HARNESS_TEST_MAIN set
// it runs main, so tests see the real exit code.
func TestMain(m *testing.M) {
	if os.Getenv("HARNESS_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func harness(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HARNESS_TEST_MAIN=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

var fixtures = filepath.Join("..", "..", "..", "results", "testdata")

func TestCompareExitCode(t *testing.T) {
	out := filepath.Join(t.TempDir(), "compare.md")
	cases := []struct {
		name string
		args []string
		code int
		say  string
	}{
		{"noise only", []string{"compare", filepath.Join(fixtures, "repeat3"), filepath.Join(fixtures, "repeat3-noise")}, 0, "No regression"},
		{"chi slower", []string{"compare", "-out", out, filepath.Join(fixtures, "repeat3"), filepath.Join(fixtures, "repeat3-chi-slower")}, 1, "regression(s) beyond 10%"},
		{"chi slower within a 30% threshold", []string{"compare", "-threshold", "30%", filepath.Join(fixtures, "repeat3"), filepath.Join(fixtures, "repeat3-chi-slower")}, 0, "No regression"},
		{"missing baseline", []string{"compare", filepath.Join(fixtures, "no-such-run"), filepath.Join(fixtures, "repeat3")}, 1, "baseline"},
		{"one argument", []string{"compare", filepath.Join(fixtures, "repeat3")}, 1, "needs a baseline and a new run"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := harness(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr, tc.say) {
				t.Errorf("output lacks %q:\n%s%s", tc.say, stdout, stderr)
			}
		})
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), "**regression**") {
		t.Errorf("-out file: %v\n%s", err, b)
	}
}

func TestReportRegeneratesFromResultsJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(fixtures, "repeat3", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := harness(t, "report", "-root", filepath.Join("..", "..", ".."), dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"summary.md", "report.md", "charts/peak_rps.png", "charts/peak_rps.svg", "charts/latency.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	rep, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"![Peak req/s per vCPU: measured vs article](charts/peak_rps.png)", "| `rust-beats-go` |", "Measured on AMD EPYC 7B13"} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}
