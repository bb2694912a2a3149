// Command harness is the thin CLI over the harness packages: it parses
// flags and wires them; the work is done in harness/*.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/benchharness/harness/harness/bench"
	"github.com/benchharness/harness/harness/contract"
	"github.com/benchharness/harness/harness/results"
	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/targets"
	"github.com/benchharness/harness/harness/verify"
)

const usage = `usage: harness <command> [flags]

commands:
  bench      build, start, verify and measure targets; write results/<run-id>/
  run        measure a server that is already running (--url, --target, --pid or --container)
  verify     check a running server against the target contract (--url)
  contract   print the reference bytes of /users/{id} (ids as arguments),
             or with "compute [seed [rounds [top]]]" of /compute/rank,
             or with "churn [seed [n]]" of /gc/churn
  targets    list the targets and whether this machine can build them
  setup      install the missing Debian toolchain packages of every target (root)
  report     regenerate summary.md, charts/ and report.md of a run from its results.json
  compare    compare two runs per target and figure; exit 1 on a significant regression
  calibrate  measure the loader against an instant reference server (what every bench does first)
  loader-bench  the loader beside wrk against the same instant reference server
  refserver  an instant HTTP server for calibrating the loader (used by calibrate)
  agent      one loader agent, driven by a coordinator over stdin/stdout or a ConfigMap (used by bench -loaders N, RUNTIME=k8s)
  sampler    the target's CPU and memory as lines, from beside it in its pod (the k8s runtime's sidecar)
  crosscheck measure targets with the harness and with oha (an independent loader); exit 1 if they disagree
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "bench":
		err = benchCmd(ctx, os.Args[2:])
	case "run":
		err = runCmd(ctx, os.Args[2:])
	case "verify":
		err = verifyCmd(ctx, os.Args[2:])
	case "contract":
		err = contractCmd(os.Args[2:])
	case "targets":
		err = targetsCmd(ctx, os.Args[2:])
	case "setup":
		err = setupCmd(ctx, os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	case "compare":
		err = compareCmd(os.Args[2:])
	case "loader-bench":
		err = loaderBenchCmd(ctx, os.Args[2:])
	case "calibrate":
		err = calibrateCmd(ctx, os.Args[2:])
	case "refserver":
		err = refserverCmd(ctx, os.Args[2:])
	case "agent":
		err = agentCmd(ctx, os.Args[2:])
	case "sampler":
		err = samplerCmd(ctx, os.Args[2:])
	case "crosscheck":
		err = crosscheckCmd(ctx, os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "harness: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

func benchCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	root := fs.String("root", ".", "repository root (holds targets/, scenarios/, results/)")
	names := fs.String("targets", "", "comma-separated targets (default: all)")
	profile := fs.String("profile", "quick", "profile in scenarios/profiles/")
	scen := fs.String("scenario", "", "request mix in scenarios/ (default: the profile's)")
	dur := fs.Duration("duration", 0, "override step and fixed-run duration (e.g. 5s)")
	rt := fs.String("runtime", "local", "runtime: local (processes), docker (containers) or k8s (a cluster, docs/kubernetes.md)")
	dryRun := fs.Bool("dry-run", false, "with -runtime k8s: write the manifests the run would apply to -out; contact no cluster or registry")
	manifests := fs.String("out", "", "with -dry-run: the directory for the manifests")
	calib := fs.String("calibration", "", "with -runtime k8s: a run directory (results/<run>) whose loader calibration sizes the agents")
	install := fs.Bool("install-missing", false, "install missing Debian toolchain packages (root only)")
	out := fs.String("results", "", "results directory (default: <root>/results)")
	repeat := fs.Int("repeat", 1, "measure each target this many times (fixed run + peak search); figures are medians")
	calibrate := fs.Bool("calibrate", true, "first measure the loader against an instant reference server (harness calibrate)")
	loaders := fs.String("loaders", "auto", "loader agent processes, each on its share of the loader CPUs: N, 0 (the loader runs in this process) or auto (with several loader CPUs, one agent per CPU if they calibrate to a higher capacity than this process)")
	idle := idleFlag(fs)
	_ = fs.Parse(args)
	if *repeat < 1 {
		return fmt.Errorf("-repeat %d: want at least 1", *repeat)
	}
	nLoaders, err := parseLoaders(*loaders)
	if err != nil {
		return err
	}

	p, s, ref, err := loadRun(*root, *profile, *scen, *dur, *idle)
	if err != nil {
		return err
	}
	sel, err := selectTargets(*root, *names)
	if err != nil {
		return err
	}
	runID := time.Now().UTC().Format("20060102-150405") + "-" + p.Name
	if *dryRun && *rt != "k8s" {
		return fmt.Errorf("-dry-run is for -runtime k8s, not %s", *rt)
	}
	if *out == "" {
		*out = filepath.Join(*root, "results")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the harness binary (the calibration's reference server): %w", err)
	}
	opts := bench.Options{
		Targets: sel, Profile: p, Scenario: s, Reference: ref, ResultsDir: *out,
		RunID: runID, Command: os.Args, Progress: bench.NewProgress(os.Stderr),
		Repeat: *repeat, Calibrate: *calibrate, HarnessExe: exe, Loaders: nLoaders,
		KeepLoaderAwake: p.Loader.KeepAwake(),
	}
	switch *rt {
	case "local":
		opts.Runtime = &runtimes.Local{InstallMissing: *install, Log: os.Stderr}
	case "docker":
		opts.Runtime = &runtimes.Docker{InstallMissing: *install, Log: os.Stderr}
	case "k8s":
		setup, err := k8sSetup(p, s, sel, runID, *calib)
		if err != nil {
			return err
		}
		if *dryRun {
			return k8sDryRun(setup, *manifests)
		}
		closeCluster, err := k8sCluster(ctx, setup, &opts)
		if err != nil {
			return err
		}
		defer closeCluster()
	default:
		return fmt.Errorf("unknown runtime %q (have: local, docker, k8s)", *rt)
	}
	run, dir, err := bench.Run(ctx, opts)
	if dir != "" {
		if md, rerr := os.ReadFile(filepath.Join(dir, "summary.md")); rerr == nil {
			fmt.Println()
			fmt.Print(string(md))
			fmt.Printf("\nresults: %s\n", dir)
		}
		// Charts, claim verdicts and report.md, also for a partial run.
		if rerr := writeReport(dir, filepath.Join(*root, "scenarios", "claims", "article.yaml")); rerr != nil && err == nil {
			err = fmt.Errorf("report: %w", rerr)
		}
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return errors.New("interrupted: partial results written")
	}
	for _, t := range run.Targets {
		if t.Status == results.StatusFailed {
			return fmt.Errorf("target %s failed: %s", t.Name, t.Reason)
		}
	}
	return nil
}

func verifyCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	url := fs.String("url", "", "base URL of a running target, e.g. http://127.0.0.1:8080")
	_ = fs.Parse(args)
	if *url == "" {
		return errors.New("verify needs --url")
	}
	rep := verify.Target(ctx, *url)
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Printf("%s %s %s\n", mark, c.Name, c.Problem)
	}
	if !rep.OK() {
		return errors.New("target does not meet the contract")
	}
	return nil
}

func contractCmd(args []string) error {
	if len(args) > 0 && args[0] == "compute" {
		return computeCmd(args[1:])
	}
	if len(args) > 0 && args[0] == "churn" {
		return churnCmd(args[1:])
	}
	if len(args) == 0 {
		args = []string{"1", "10000"}
	}
	for _, a := range args {
		var id int
		if _, err := fmt.Sscanf(a, "%d", &id); err != nil || id < 1 || id > contract.UserCount {
			return fmt.Errorf("user id %q: want 1..%d", a, contract.UserCount)
		}
		fmt.Printf("%s\n", contract.UserJSON(id))
	}
	return nil
}

// computeCmd prints the compute kernel's reference answer for seed, rounds
// and top, given in that order (each optional).
func computeCmd(args []string) error {
	q := url.Values{}
	for i, name := range []string{"seed", "rounds", "top"} {
		if i < len(args) {
			q.Set(name, args[i])
		}
	}
	p, err := contract.ParseComputeParams(q)
	if err != nil {
		return fmt.Errorf("compute: invalid %s (seed 0..4294967295, rounds 1..%d, top 1..%d)", err, contract.ComputeMaxRounds, contract.ComputeMaxTop)
	}
	fmt.Printf("%s\n", contract.ComputeJSON(p))
	return nil
}

// churnCmd prints /gc/churn's reference answer for seed and n, given in
// that order (each optional).
func churnCmd(args []string) error {
	q := url.Values{}
	for i, name := range []string{"seed", "n"} {
		if i < len(args) {
			q.Set(name, args[i])
		}
	}
	p, err := contract.ParseChurnParams(q)
	if err != nil {
		return fmt.Errorf("churn: invalid %s (seed 0..4294967295, n 1..%d)", err, contract.ChurnMaxN)
	}
	fmt.Printf("%s\n", contract.ChurnJSON(p))
	return nil
}

func targetsCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("targets", flag.ExitOnError)
	root := fs.String("root", ".", "repository root")
	_ = fs.Parse(args)
	all, err := targets.Discover(filepath.Join(*root, "targets"))
	if err != nil {
		return err
	}
	for _, m := range all {
		state := "ready"
		if miss := m.CheckToolchain(); miss != nil {
			state = "skipped: " + miss.String()
		} else if miss := m.CheckRequirements(ctx); miss != nil {
			state = "skipped: " + miss.String()
		}
		fmt.Printf("%-10s %-8s %-28s %s\n", m.Name, m.Language, m.Framework, state)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

func setupCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	root := fs.String("root", ".", "repository root")
	_ = fs.Parse(args)
	all, err := targets.Discover(filepath.Join(*root, "targets"))
	if err != nil {
		return err
	}
	local := &runtimes.Local{InstallMissing: true, Log: os.Stderr}
	for _, m := range all {
		var pkgs []string
		for _, miss := range []*targets.Missing{m.CheckToolchain(), m.CheckRequirements(ctx)} {
			if miss != nil {
				pkgs = append(pkgs, miss.Apt...)
			}
		}
		if len(pkgs) == 0 {
			fmt.Printf("%-10s nothing to install\n", m.Name)
			continue
		}
		if err := local.Install(ctx, pkgs); err != nil {
			fmt.Printf("%-10s not installed: %v\n", m.Name, err)
			continue
		}
		fmt.Printf("%-10s installed %s\n", m.Name, strings.Join(pkgs, " "))
	}
	return nil
}
