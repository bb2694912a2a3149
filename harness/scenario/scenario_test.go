package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShippedFilesLoad(t *testing.T) {
	dir := filepath.Join("..", "..", "scenarios")
	for _, name := range []string{"quick", "article", "article-k8s"} {
		p, err := LoadProfile(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadScenario(dir, p.Scenario); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"api", "json", "compute", "gc", "connections", "db"} {
		if _, err := LoadScenario(dir, name); err != nil {
			t.Fatal(err)
		}
	}
	ref, err := LoadReference(dir, "article")
	if err != nil {
		t.Fatal(err)
	}
	if row, ok := ref.Row("axum"); !ok || row.PeakRPS != 89000 {
		t.Fatalf("article axum row = %+v, %v", row, ok)
	}
}

func TestBadProfileNamesFileAndField(t *testing.T) {
	base := "name: p\nscenario: api\nstep: 3s\nfixed_duration: 5s\n"
	cases := []struct {
		name, body, field string
	}{
		{"unknown field", base + "step_duraton: 3s\n", "step_duraton"},
		{"bad duration", "name: p\nscenario: api\nstep: fast\nfixed_duration: 5s\n", "fast"},
		{"missing step", "name: p\nscenario: api\nfixed_duration: 5s\n", "field step"},
		{"bad budget", base + "vcpus: lots\n", "field vcpus"},
		{"growth", base + "search:\n  growth: 1\n", "field search.growth"},
		{"idle_cpu", base + "idle_cpu: 1.5\n", "field idle_cpu"},
		{"settle_timeout", base + "settle_timeout: -1s\n", "field settle_timeout"},
		{"connections_per_vcpu", base + "loader:\n  connections_per_vcpu: -1\n", "field loader.connections_per_vcpu"},
		{"workers", base + "loader:\n  workers: 0\n", "field loader.workers"},
		{"cpu_idle", base + "loader:\n  cpu_idle: halt\n", "field loader.cpu_idle"},
		{"release_ahead", base + "loader:\n  release_ahead: 50ms\n", "field loader.release_ahead"},
		{"negative release_ahead", base + "loader:\n  release_ahead: -1ms\n", "field loader.release_ahead"},
		{"connection_reuse", base + "loader:\n  connection_reuse: lifo\n", "field loader.connection_reuse"},
		{"no scenario", "name: p\nstep: 3s\nfixed_duration: 5s\n", "field scenario"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, "profiles"), 0o755)
			path := filepath.Join(dir, "profiles", "p.yaml")
			if err := os.WriteFile(path, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadProfile(dir, "p")
			if err == nil {
				t.Fatal("bad profile accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, c.field) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q should be one line starting with %s and naming %q", msg, path, c.field)
			}
		})
	}
}

func TestBadScenario(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	os.WriteFile(path, []byte("name: s\nrequests:\n  - {weight: 1, method: POST, path: /orders/quote}\n"), 0o644)
	_, err := LoadScenario(dir, "s")
	if err == nil || !strings.Contains(err.Error(), path+": field requests[0].body") {
		t.Fatalf("got %v", err)
	}
}

func TestParseBudget(t *testing.T) {
	for in, want := range map[string]float64{"8": 8, "0.5": 0.5, "1/3": 1.0 / 3} {
		got, err := ParseBudget(in)
		if err != nil || got != want {
			t.Errorf("ParseBudget(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"0", "-1", "x", "1/0"} {
		if _, err := ParseBudget(in); err == nil {
			t.Errorf("ParseBudget(%q) accepted", in)
		}
	}
}

// A target's connections follow its budget under the profile's cap; a
// scenario that names a count gets it.
func TestLoaderConnectionsForABudget(t *testing.T) {
	lp := Loader{Connections: 512, ConnectionsPerVCPU: 512}
	cases := []struct {
		name   string
		lp     Loader
		budget float64
		scen   *Scenario
		want   int
	}{
		{"a third of a CPU", lp, 1.0 / 3, &Scenario{}, 171},
		{"a whole CPU: the profile's cap", lp, 1, &Scenario{}, 512},
		{"eight CPUs: still the profile's cap", lp, 8, nil, 512},
		{"a sliver: the floor", lp, 0.01, nil, minConnections},
		{"no per-vCPU cap", Loader{Connections: 512}, 1.0 / 3, nil, 512},
		{"the scenario asks for more", lp, 1.0 / 3, &Scenario{Connections: 2000}, 2000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.lp.For(c.budget, c.scen).Connections; got != c.want {
				t.Fatalf("connections %d, want %d", got, c.want)
			}
		})
	}
}

// A scenario's own rates replace the profile's; without them the profile's
// stand.
func TestScenarioRatesOverrideTheProfile(t *testing.T) {
	p, err := LoadProfile(filepath.Join("..", "..", "scenarios"), "quick")
	if err != nil {
		t.Fatal(err)
	}
	fixed, start := p.FixedRatePerVCPU, p.Search.StartPerVCPU
	q := *p
	q.Apply(&Scenario{})
	if q.FixedRatePerVCPU != fixed || q.Search.StartPerVCPU != start {
		t.Fatalf("a scenario without rates changed them: %g, %g", q.FixedRatePerVCPU, q.Search.StartPerVCPU)
	}
	s, err := LoadScenario(filepath.Join("..", "..", "scenarios"), "compute")
	if err != nil {
		t.Fatal(err)
	}
	p.Apply(s)
	if p.FixedRatePerVCPU != 10 || p.Search.StartPerVCPU != 20 {
		t.Fatalf("compute: fixed %g, start %g per vCPU, want 10 and 20", p.FixedRatePerVCPU, p.Search.StartPerVCPU)
	}
}

// The article's table is a JSON API's: it stands beside api and json runs,
// never beside a compute run.
func TestReferenceCoversItsScenarios(t *testing.T) {
	ref, err := LoadReference(filepath.Join("..", "..", "scenarios"), "article")
	if err != nil {
		t.Fatal(err)
	}
	for scen, want := range map[string]bool{"api": true, "json": true, "compute": false} {
		if got := ref.Covers(scen); got != want {
			t.Errorf("article covers %s: %v, want %v", scen, got, want)
		}
	}
}

func TestScenarioEnvAndFixedDuration(t *testing.T) {
	cases := []struct {
		yaml, field string // field "": loads
	}{
		{"env: {GC_LIVE_OBJECTS: \"5\"}\nfixed_duration: 60s\n", ""},
		{"env: {gc_live: \"5\"}\n", "env.gc_live"},
		{"env: {PORT: \"80\"}\n", "env.PORT"},
		{"env: {BENCH_CPUS: \"0\"}\n", "env.BENCH_CPUS"},
		{"fixed_duration: -1s\n", "fixed_duration"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		path := filepath.Join(dir, "s.yaml")
		body := "name: s\nrequests:\n  - {weight: 1, method: GET, path: /json}\n" + tc.yaml
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := LoadScenario(dir, "s")
		if tc.field != "" {
			if err == nil || !strings.Contains(err.Error(), path+": field "+tc.field) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: got %v, want one line naming %s and field %s", tc.yaml, err, path, tc.field)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		p := &Profile{FixedDuration: Duration(10 * time.Second)}
		p.Apply(s)
		if p.FixedDuration.D() != time.Minute || s.TargetEnv()["GC_LIVE_OBJECTS"] != "5" {
			t.Errorf("fixed duration %s, env %v", p.FixedDuration.D(), s.TargetEnv())
		}
	}
}
