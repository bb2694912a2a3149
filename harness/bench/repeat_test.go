package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/targets"
)

func TestRepeatKeepsEveryRepetition(t *testing.T) {
	if testing.Short() {
		t.Skip("measures a server: skipped with -short")
	}
	root := t.TempDir()
	writeTarget(t, root, "good", "", nil)
	all, err := targets.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	run, dir, err := Run(context.Background(), Options{Targets: all, Profile: tinyProfile(), Scenario: apiScenario(t), Runtime: &runtimes.Local{},
		ResultsDir: t.TempDir(), RunID: "repeat-" + strconv.Itoa(os.Getpid()), Progress: NewPlainProgress(&log), Repeat: 2})
	if err != nil {
		t.Fatal(err)
	}
	good := run.Targets[0]
	if good.Status != results.StatusOK || len(good.Repeats) != 2 {
		t.Fatalf("status %s, %d repetitions, want ok and 2\n%s", good.Status, len(good.Repeats), log.String())
	}
	for i, r := range good.Repeats {
		if r.Fixed == nil || r.Peak == nil || r.Peak.Peak <= 0 || r.RSSPeakMB <= 0 || !r.End.After(r.Start) {
			t.Errorf("repetition %d incomplete: %+v", i, r)
		}
	}
	// The top level holds one of the repetitions, whole.
	if good.Fixed != good.Repeats[0].Fixed && good.Fixed != good.Repeats[1].Fixed {
		t.Error("top-level fixed is not one of the repetitions")
	}
	if !strings.Contains(log.String(), "repetition 2 of 2") {
		t.Errorf("progress does not show the repetitions:\n%s", log.String())
	}
	disk, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(disk.Targets[0].Repeats) != 2 {
		t.Error("results.json lost the repetitions")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "spread.csv")); err != nil || !strings.Contains(string(b), "good,peak_rps,2,") {
		t.Errorf("spread.csv: %v\n%s", err, b)
	}
}
