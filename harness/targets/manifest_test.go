package targets

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestShippedManifestsLoad(t *testing.T) {
	all, err := Discover(filepath.Join("..", "..", "targets"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range all {
		names[m.Name] = true
		if len(m.Toolchain) == 0 {
			t.Errorf("%s: no toolchain listed", m.Name)
		}
	}
	for _, want := range []string{"chi", "fastify", "axum", "erlang", "phoenix"} {
		if !names[want] {
			t.Errorf("targets/%s missing", want)
		}
	}
}

func TestBadManifestNamesFileAndField(t *testing.T) {
	ok := "name: x\nsources: [a]\nbuild: \"true\"\nrun: [\"true\"]\nhealth: /health\n"
	cases := []struct{ name, body, want string }{
		{"unknown field", ok + "helth: /h\n", "field helth not found"},
		{"wrong name", strings.Replace(ok, "name: x", "name: y", 1), "field name"},
		{"no run", strings.Replace(ok, "run: [\"true\"]\n", "", 1), "field run"},
		{"bad health", strings.Replace(ok, "/health", "health", 1), "field health"},
		{"requirement without reason", ok + "requires:\n  - check: \"false\"\n", "field requires[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "x")
			os.Mkdir(dir, 0o755)
			path := filepath.Join(dir, "target.yaml")
			os.WriteFile(path, []byte(c.body), 0o644)
			_, err := Load(dir)
			if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v: want one line starting with %s naming %q", err, path, c.want)
			}
		})
	}
}

func TestMissingCarriesTheFix(t *testing.T) {
	m := &Manifest{Dir: t.TempDir(),
		Toolchain: []Toolchain{{Bin: "no-such-tool-xyz", Apt: []string{"xyz-tools"}}},
		Requires:  []Requirement{{Check: "exit 1", Reason: "lib missing", Hint: "apt-get install -y libxyz", Apt: []string{"libxyz"}}}}
	if miss := m.CheckToolchain(); miss == nil || miss.Hint != "apt-get install -y xyz-tools" || miss.Apt[0] != "xyz-tools" {
		t.Fatalf("toolchain: %+v", miss)
	}
	if miss := m.CheckRequirements(context.Background()); miss == nil || miss.What != "lib missing" || miss.Apt[0] != "libxyz" {
		t.Fatalf("requirement: %+v", miss)
	}
}

// A build stamp kept after $OUT lost the program run starts would report the
// build up to date and the start would fail; outputs make that a rebuild.
func TestShippedRunProgramIsAnOutput(t *testing.T) {
	all, err := Discover(filepath.Join("..", "..", "targets"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		prog := m.Run[0]
		if !strings.HasPrefix(prog, "$OUT/") {
			continue // a program from PATH (node), not built
		}
		if !slices.Contains(m.Outputs, prog) {
			t.Errorf("%s: run starts %s, which outputs %q does not list", m.Name, prog, m.Outputs)
		}
	}
}

func TestEveryFailingRequirementIsReported(t *testing.T) {
	m := &Manifest{Dir: t.TempDir(), Requires: []Requirement{
		{Check: "true", Reason: "never shown", Hint: "never run"},
		{Check: "exit 1", Reason: "the archive is not installed", Hint: "install-archive", Apt: []string{"a"}},
		{Check: "echo 2 of 3 missing: x, y; echo second line; exit 1", Reason: "the packages are not fetched", Hint: "fetch-packages", Apt: []string{"b"}},
	}}
	miss := m.CheckRequirements(context.Background())
	if miss == nil {
		t.Fatal("no requirement reported missing")
	}
	if want := "the archive is not installed; the packages are not fetched (2 of 3 missing: x, y)"; miss.What != want {
		t.Errorf("What = %q, want %q", miss.What, want)
	}
	if want := "install-archive && fetch-packages"; miss.Hint != want {
		t.Errorf("Hint = %q, want %q", miss.Hint, want)
	}
	if !slices.Equal(miss.Apt, []string{"a", "b"}) {
		t.Errorf("Apt = %q, want [a b]", miss.Apt)
	}
}

// phoenix's requires, run on fixtures: a copy of its mix.lock and
// deps-check.sh, a deps/ holding some of the packages, and a stand-in mix
// that does or does not list the Hex archive. Nothing is fetched.
func TestPhoenixRequiresEveryLockedPackage(t *testing.T) {
	real, err := Load(filepath.Join("..", "..", "targets", "phoenix"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(real.Dir, "mix.lock"))
	if err != nil {
		t.Fatal(err)
	}
	var locked []string
	for _, sub := range regexp.MustCompile(`(?m)^\s*"(\w+)": \{:hex,`).FindAllStringSubmatch(string(lock), -1) {
		locked = append(locked, sub[1])
	}
	if len(locked) != 14 {
		t.Fatalf("mix.lock: %d hex packages found, want the 14 README.md lists", len(locked))
	}
	script, err := os.ReadFile(filepath.Join(real.Dir, "deps-check.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// The packages the old check looked at: with only these it passed.
	oldFive := []string{"phoenix", "bandit", "thousand_island", "plug", "telemetry"}
	const depsReason = "its hex dependencies are not in targets/phoenix/deps"
	const hexReason = "the Hex archive is not installed (mix needs it to fetch and build hex packages)"
	const depsHint = "cd targets/phoenix && mix deps.get --only prod"

	cases := []struct {
		name     string
		hex      bool
		fetched  []string
		noDotHex []string // folders an interrupted fetch left without .hex
		what     string   // "" = satisfied
		hint     string
	}{
		{"nothing fetched, no Hex", false, nil, nil,
			hexReason + "; " + depsReason + " (all 14 packages in mix.lock are missing: bandit, castore, hpax and 11 more)",
			"mix local.hex --force && " + depsHint},
		{"nothing fetched, Hex installed", true, nil, nil,
			depsReason + " (all 14 packages in mix.lock are missing: bandit, castore, hpax and 11 more)", depsHint},
		{"the five the old check tested", true, oldFive, nil,
			depsReason + " (9 of the 14 packages in mix.lock are missing: castore, hpax, jason and 6 more)", depsHint},
		{"all but four", true, without(locked, "castore", "hpax", "mime", "websock"), nil,
			depsReason + " (4 of the 14 packages in mix.lock are missing: castore, hpax, mime, websock)", depsHint},
		{"a folder without .hex", true, without(locked, "plug"), []string{"plug"},
			depsReason + " (1 of the 14 packages in mix.lock is missing: plug)", depsHint},
		{"all fetched, no Hex", false, locked, nil, hexReason, "mix local.hex --force"},
		{"all fetched, Hex installed", true, locked, nil, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "mix.lock"), string(lock), 0o644)
			writeFile(t, filepath.Join(dir, "deps-check.sh"), string(script), 0o644)
			for _, name := range c.fetched {
				writeFile(t, filepath.Join(dir, "deps", name, ".hex"), "fetched", 0o644)
			}
			for _, name := range c.noDotHex {
				writeFile(t, filepath.Join(dir, "deps", name, "mix.exs"), "partial", 0o644)
			}
			bin := t.TempDir()
			archives := "No archives currently installed."
			if c.hex {
				archives = "* hex-2.1.1"
			}
			writeFile(t, filepath.Join(bin, "mix"), "#!/bin/sh\nprintf '%s\\n' '"+archives+"'\n", 0o755)
			t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

			m := *real.ForScenario("api") // the JSON API's requirements: no database driver
			m.Dir = dir
			miss := m.CheckRequirements(context.Background())
			switch {
			case c.what == "" && miss != nil:
				t.Fatalf("skipped: %s", miss)
			case c.what == "":
			case miss == nil:
				t.Fatalf("not skipped, want %q", c.what)
			case miss.What != c.what || miss.Hint != c.hint:
				t.Fatalf("got\n  %q\n  hint %q\nwant\n  %q\n  hint %q", miss.What, miss.Hint, c.what, c.hint)
			}
		})
	}
}

func without(names []string, drop ...string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(drop, n) {
			out = append(out, n)
		}
	}
	return out
}

func writeFile(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
}

func TestRequirementsOfOtherScenariosDoNotApply(t *testing.T) {
	m := &Manifest{Name: "x", Requires: []Requirement{{Check: "true", Reason: "always"}, {Check: "false", Reason: "db driver", Scenarios: []string{"db"}}}}
	if got := m.ForScenario("api"); len(got.Requires) != 1 || got.Requires[0].Reason != "always" {
		t.Errorf("api: requires %+v, want only the unscoped one", got.Requires)
	}
	if got := m.ForScenario("db"); len(got.Requires) != 2 {
		t.Errorf("db: requires %+v, want both", got.Requires)
	}
	if len(m.Requires) != 2 {
		t.Errorf("ForScenario changed the manifest: %+v", m.Requires)
	}
}
