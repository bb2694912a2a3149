package targets

import (
	"context"
	"os"
	"path/filepath"
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
