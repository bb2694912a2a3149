package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/database"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/scenario"
)

// postgresPackages is what provides the database on Debian; the local
// runtime installs it like a target's toolchain when it may.
var postgresPackages = []string{"postgresql-15"}

// noMainCluster is postgresql-common's setting that keeps the package's
// install from creating and starting a cluster (as .ci/run writes it).
const noMainCluster = "/etc/postgresql-common/createcluster.d/bench-harness.conf"

// startDatabase starts and seeds the scenario's database, once per run,
// when it has one: on the target's CPUs under its own quota. The caller
// stops it; nil when the scenario has no database.
func startDatabase(ctx context.Context, o Options, plan cpuset.Plan, dir string, man *results.Manifest) (*database.Server, error) {
	d := o.Scenario.Database
	if d == nil {
		return nil, nil
	}
	if err := ensurePostgres(ctx, o); err != nil {
		return nil, err
	}
	budget := o.Profile.DatabaseVCPUs(plan.Budget)
	spec := database.Spec{CPUs: plan.TargetCPUs, Budget: budget, QuotaPeriod: o.Profile.QuotaPeriod.D(),
		MaxConnections: 4*o.Profile.Database.Pool + 20, LogPath: filepath.Join(dir, "logs", "database.log"), Name: o.RunID}
	// The database runs the way the targets do: a container beside
	// containers, a process beside processes.
	start := database.Start
	if o.Runtime.Name() == "docker" {
		start = database.StartDocker
	}
	srv, err := start(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("start the database: %w", err)
	}
	info := &results.DatabaseInfo{Version: srv.Version(), Pinning: srv.Pinning(), VCPUs: budget, Pool: o.Profile.Database.Pool, Schema: d.Schema}
	man.Database = info
	o.Progress.Logf("database: PostgreSQL %s up (%s); seeding it from scenarios/%s", srv.Version(), srv.Pinning(), d.Schema)
	seedStart := time.Now()
	if err := srv.Seed(ctx, d.SchemaPath); err != nil {
		_ = srv.Stop(context.Background())
		return nil, fmt.Errorf("seed the database from %s: %w", d.Schema, err)
	}
	info.SeedSeconds = time.Since(seedStart).Seconds()
	o.Progress.Logf("database: seeded in %.0f s", info.SeedSeconds)
	return srv, nil
}

// ensurePostgres installs PostgreSQL's Debian package when it is missing
// and the local runtime may install packages.
func ensurePostgres(ctx context.Context, o Options) error {
	_, err := database.Binaries()
	if !errors.Is(err, database.ErrNoPostgres) {
		return err
	}
	l, ok := o.Runtime.(*runtimes.Local)
	if !ok || !l.InstallMissing {
		return err
	}
	// The harness runs its own server in a temporary directory: Debian
	// must not create and start a "main" cluster of its own on install.
	if werr := os.MkdirAll(filepath.Dir(noMainCluster), 0o755); werr == nil {
		werr = os.WriteFile(noMainCluster, []byte("create_main_cluster = false\n"), 0o644)
		if werr != nil {
			return fmt.Errorf("%w (writing %s failed: %v)", err, noMainCluster, werr)
		}
	}
	o.Progress.Logf("database: installing %s (without Debian's main cluster: %s)", strings.Join(postgresPackages, " "), noMainCluster)
	if ierr := l.Install(ctx, postgresPackages); ierr != nil {
		return fmt.Errorf("%w (installing it failed: %v)", err, ierr)
	}
	_, err = database.Binaries()
	return err
}

// targetDatabase gives one target its fresh copy of the seeded database
// and the environment that points it there.
func (r *targetRun) targetDatabase(ctx context.Context) (map[string]string, error) {
	if r.db == nil {
		return nil, nil
	}
	dsn, err := r.db.Fresh(ctx, "bench_"+strings.ReplaceAll(r.m.Name, "-", "_"))
	if err != nil {
		return nil, fmt.Errorf("a fresh database: %w", err)
	}
	r.p.Logf("%s: a fresh copy of the seeded database, vacuumed and analysed", r.m.Name)
	return map[string]string{contract.DatabaseURLEnv: dsn, contract.DBPoolEnv: fmt.Sprint(r.o.Profile.Database.Pool)}, nil
}

// sampleDatabase starts sampling the database for the observer.
func (r *targetRun) sampleDatabase(ctx context.Context, o *Observer, every time.Duration) (stop func()) {
	if r.db == nil {
		return func() {}
	}
	s := sample.Start(ctx, r.db.Usage(), every)
	o.Database, o.DatabaseBudget = s, r.o.Profile.DatabaseVCPUs(r.plan.Budget)
	return s.Stop
}

// scenarioEnv is the scenario's environment for a target plus extra (its
// database's), extra winning.
func scenarioEnv(s *scenario.Scenario, extra map[string]string) map[string]string {
	env := maps.Clone(s.TargetEnv())
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, extra)
	return env
}
