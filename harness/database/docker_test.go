package database

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/runtimes"
)

// dockerEngine connects to the engine and checks the offline base image.
// Without them the test is skipped on a developer's machine, but fails
// under CI, whose .ci/run starts dockerd and builds the base first.
func dockerEngine(t *testing.T) client.APIClient {
	t.Helper()
	requirePostgres(t) // the offline image copies this machine's PostgreSQL
	miss := func(format string, a ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have it (.ci/run starts dockerd and builds the base image): "+format, a...)
		}
		t.Skipf(format, a...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := runtimes.NewClient(ctx)
	if err != nil {
		miss("no Docker engine (make docker-up starts one): %v", err)
	}
	if _, err := cli.ImageInspect(ctx, runtimes.BaseImage()); err != nil {
		miss("no offline base image %s (make docker-base): %v", runtimes.BaseImage(), err)
	}
	return cli
}

// smallSeed is scenarios/db.sql with a thousandth of the orders: the same
// schema and users, loaded in a second.
func smallSeed(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(seedSQL)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "1000000", "1000")
	path := filepath.Join(t.TempDir(), "small.sql")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDocker(t *testing.T) {
	cli := dockerEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	start := time.Now()
	s, err := StartDocker(ctx, Spec{Name: fmt.Sprintf("test-docker-%d", os.Getpid()), LogPath: filepath.Join(t.TempDir(), "pg.log"), Budget: 1})
	if err != nil {
		t.Fatalf("StartDocker: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	t.Logf("started %s in %s: port %d, %s", s.Version(), time.Since(start).Round(time.Millisecond), s.Port(), s.Pinning())
	if !strings.Contains(s.Pinning(), "cpuset") {
		t.Errorf("pinning %q names no CPU set", s.Pinning())
	}
	if err := s.Seed(ctx, smallSeed(t)); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	dsn := fresh(t, ctx, s, "t1")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	checkSettings(t, ctx, conn)
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil || !strings.HasPrefix(version, "PostgreSQL 15") {
		t.Errorf("version() = %q (%v), want PostgreSQL 15", version, err)
	}
	for _, id := range []int{1, 7, 10000} {
		if got := queryUser(t, ctx, conn, id); fmt.Sprint(got) != fmt.Sprint(contract.NewUser(id)) {
			t.Errorf("user %d: %+v, want %+v", id, got, contract.NewUser(id))
		}
	}
	var orderID int64
	if err := conn.QueryRow(ctx, contract.SQLInsertOrder, 7).Scan(&orderID); err != nil {
		t.Fatalf("Q3: %v", err)
	}
	fresh(t, ctx, s, "t1")
	conn2, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	var n int
	if err := conn2.QueryRow(ctx, `SELECT count(*) FROM orders WHERE id = $1`, orderID).Scan(&n); err != nil || n != 0 {
		t.Errorf("order %d after Fresh: count %d, err %v; want it gone", orderID, n, err)
	}
	if _, err := s.Usage().Read(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Usage().Read(ctx); err != nil || r.RSSBytes == 0 {
		t.Errorf("usage of the container: %+v, %v", r, err)
	}

	id := s.ContainerID()
	insp, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var volumes []string
	for _, m := range insp.Container.Mounts {
		if m.Name != "" {
			volumes = append(volumes, m.Name)
		}
	}
	if len(volumes) == 0 {
		t.Errorf("no data volume mounted: %+v", insp.Container.Mounts)
	}
	conn.Close(ctx)
	conn2.Close(ctx)
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	assertNoContainer(t, cli, id)
	for _, v := range volumes {
		if _, err := cli.VolumeInspect(context.Background(), v, client.VolumeInspectOptions{}); !errdefs.IsNotFound(err) {
			t.Errorf("volume %s outlived the container (%v)", v, err)
		}
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// TestDockerStartCancelled cancels StartDocker once its container runs:
// the container must be gone when it returns.
func TestDockerStartCancelled(t *testing.T) {
	cli := dockerEngine(t)
	t.Cleanup(func() { testHook = nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var id string
	testHook = func(stage string, s *Server) {
		if stage == "container" {
			id = s.ContainerID()
			cancel()
		}
	}
	s, err := StartDocker(ctx, Spec{Name: fmt.Sprintf("cancel-docker-%d", os.Getpid()), LogPath: filepath.Join(t.TempDir(), "pg.log")})
	testHook = nil
	if err == nil {
		_ = s.Stop(context.Background())
		t.Fatal("StartDocker succeeded with its context cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("StartDocker: %v, want context.Canceled", err)
	}
	if id == "" {
		t.Fatal("no container was started")
	}
	assertNoContainer(t, cli, id)
}

func assertNoContainer(t *testing.T, cli client.APIClient, id string) {
	t.Helper()
	if _, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("container %.12s still exists (%v)", id, err)
	}
}

// The container's image is chosen as a target's path is: the official
// image where it can be pulled, the offline one otherwise.
func TestPickImage(t *testing.T) {
	unreachable := func() error { return errors.New("dial tcp: lookup registry-1.docker.io: no such host") }
	pulled := func() error { return nil }
	cases := []struct {
		mode     string
		pull     func() error
		official bool
		errHas   string
		whyHas   string
	}{
		{"", pulled, true, "", "official"},
		{"auto", unreachable, false, "", "not available (lookup registry-1.docker.io: no such host)"},
		{"offline", pulled, false, "", "forced"},
		{"dockerfile", pulled, true, "", "official"},
		{"dockerfile", unreachable, false, "cannot be pulled", ""},
		{"podman", pulled, false, "want auto, dockerfile or offline", ""},
	}
	for _, tc := range cases {
		official, why, err := pickImage(tc.mode, tc.pull)
		switch {
		case tc.errHas != "":
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("mode %q: error %v, want one containing %q", tc.mode, err, tc.errHas)
			}
		case err != nil || official != tc.official || !strings.Contains(why, tc.whyHas):
			t.Errorf("mode %q: official %v why %q err %v; want %v and %q", tc.mode, official, why, err, tc.official, tc.whyHas)
		}
	}
}
