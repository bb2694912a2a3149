package runtimes_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"

	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/targets"
)

// loadCompose loads docker-compose.yml the way `docker compose config`
// does (compose-go is the loader of Compose v2): schema validation,
// interpolation, merge keys, normalisation.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("bench"), cli.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// TestComposeFile: one service per target, each on the host network with a
// CPU set, a CPU budget, a healthcheck and the harness's environment; the
// defaults are the quick profile's 2-CPU split and can be overridden.
func TestComposeFile(t *testing.T) {
	p := loadCompose(t)
	all, err := targets.Discover(filepath.Join("..", "..", "targets"))
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]string{}
	for _, m := range all {
		s, ok := p.Services[m.Name]
		if !ok {
			t.Errorf("docker-compose.yml has no service %s (targets/%s)", m.Name, m.Name)
			continue
		}
		if s.NetworkMode != "host" || len(s.Ports) > 0 {
			t.Errorf("%s: network_mode %q, ports %v; want host networking, no port mapping", m.Name, s.NetworkMode, s.Ports)
		}
		if s.CPUSet != "0" || s.CPUS < 0.33 || s.CPUS > 0.34 {
			t.Errorf("%s: cpuset %q cpus %v; want the quick profile's 0 and 0.333", m.Name, s.CPUSet, s.CPUS)
		}
		if s.Init == nil || !*s.Init {
			t.Errorf("%s: init is not set (docker-init as PID 1, as the harness runs it)", m.Name)
		}
		// chi's distroless image has no shell: its binary checks itself.
		if hc := s.HealthCheck; hc == nil || len(hc.Test) < 2 || !strings.Contains(strings.Join(hc.Test, " "), m.Health) && hc.Test[len(hc.Test)-1] != "-healthcheck" {
			t.Errorf("%s: healthcheck %+v, want one on %s", m.Name, s.HealthCheck, m.Health)
		}
		if s.Image != "bench-"+m.Name+":latest" {
			t.Errorf("%s: image %q, want bench-%s:latest (the tag the harness gives its build)", m.Name, s.Image, m.Name)
		}
		env := s.Environment
		for _, k := range []string{"PORT", "HOST", "VCPUS"} {
			if env[k] == nil || *env[k] == "" {
				t.Errorf("%s: environment lacks %s", m.Name, k)
			}
		}
		if env["HOST"] != nil && *env["HOST"] != "127.0.0.1" {
			t.Errorf("%s: HOST=%s, want 127.0.0.1", m.Name, *env["HOST"])
		}
		if port := *env["PORT"]; ports[port] != "" {
			t.Errorf("%s and %s both use port %s on the host network", ports[port], m.Name, port)
		} else {
			ports[port] = m.Name
		}
		if s.Build != nil {
			if _, err := runtimes.BaseImages(filepath.Join(s.Build.Context, "Dockerfile")); err != nil {
				t.Errorf("%s: build context %s: %v", m.Name, s.Build.Context, err)
			}
		}
	}
	for name := range p.Services {
		if !containsTarget(all, name) {
			t.Errorf("service %s has no targets/%s", name, name)
		}
	}

	over := loadCompose(t, "BENCH_CPUSET=0,1", "BENCH_CPUS=2", "BENCH_VCPUS=2", "CHI_PORT=9001")
	chi := over.Services["chi"]
	if chi.CPUSet != "0,1" || chi.CPUS != 2 || *chi.Environment["VCPUS"] != "2" || *chi.Environment["PORT"] != "9001" {
		t.Errorf("overrides not applied: cpuset %q cpus %v VCPUS %s PORT %s", chi.CPUSet, chi.CPUS, *chi.Environment["VCPUS"], *chi.Environment["PORT"])
	}
}

func containsTarget(all []*targets.Manifest, name string) bool {
	for _, m := range all {
		if m.Name == name {
			return true
		}
	}
	return false
}

// TestComposeHealthcheck runs the compose file's healthcheck command inside
// a real container (the tiny target's offline image, the Debian base): it
// must pass against a healthy server, and fail against a wrong port.
func TestComposeHealthcheck(t *testing.T) {
	cli := engine(t)
	t.Setenv("BENCH_CACHE", t.TempDir())
	// fastify carries the shared bash healthcheck every shell image uses.
	test := loadCompose(t).Services["fastify"].HealthCheck.Test
	if test[0] != "CMD" {
		t.Fatalf("healthcheck %q: want the CMD form", test)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := tinyTarget(t, "tiny", "/health")
	d := &runtimes.Docker{InstallMissing: true, Images: runtimes.ImagesOffline}
	logPath := filepath.Join(t.TempDir(), "tiny.log")
	if err := d.Prepare(ctx, m, logPath); err != nil {
		t.Fatal(err)
	}
	id := runID(t)
	inst, err := d.Start(ctx, m, runtimes.Spec{Plan: testPlan(t), LogPath: logPath, Name: id + "-tiny"})
	if err != nil {
		t.Fatal(err)
	}
	defer assertNoContainers(t, cli, id)
	defer inst.Stop(context.Background())
	ctr := inst.(interface{ ContainerID() string }).ContainerID()
	if code := execIn(t, cli, ctr, nil, test[1:]); code != 0 {
		t.Errorf("healthcheck %q exited %d against a healthy server", test[1:], code)
	}
	if code := execIn(t, cli, ctr, []string{"PORT=1"}, test[1:]); code == 0 {
		t.Errorf("healthcheck passed against port 1, where nothing listens")
	}
}

func execIn(t *testing.T, cli client.APIClient, ctr string, env, cmd []string) int {
	t.Helper()
	ctx := context.Background()
	ex, err := cli.ExecCreate(ctx, ctr, client.ExecCreateOptions{Cmd: cmd, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		res, err := cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Running && res.PID != 0 || !res.Running && res.ExitCode != 0 {
			return res.ExitCode
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("exec %q did not finish", cmd)
	return -1
}
