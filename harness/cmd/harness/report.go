package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/benchharness/harness/harness/report"
)

func reportCmd(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	root := fs.String("root", ".", "repository root (holds scenarios/)")
	claimsPath := fs.String("claims", "", "claims file (default: <root>/scenarios/claims/article.yaml); \"none\" for no verdicts")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: harness report [-root DIR] [-claims FILE] <run-dir>")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("report needs one run directory, e.g. results/latest")
	}
	if *claimsPath == "" {
		*claimsPath = filepath.Join(*root, "scenarios", "claims", "article.yaml")
	}
	return writeReport(fs.Arg(0), *claimsPath)
}

// writeReport regenerates a run's summary, charts and report.md, judging the
// claims of claimsPath ("none" for no verdicts).
func writeReport(dir, claimsPath string) error {
	var claims *report.Claims
	if claimsPath != "none" {
		var err error
		if claims, err = report.LoadClaims(claimsPath); err != nil {
			return err
		}
	}
	g, err := report.Generate(dir, claims)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, v := range g.Verdicts {
		counts[v.Verdict]++
	}
	fmt.Printf("report: %s (%d charts; claims: %d hold, %d do not hold, %d not measured)\n",
		filepath.Join(dir, "report.md"), len(g.Charts), counts[report.Holds], counts[report.DoesNotHold], counts[report.NotMeasured])
	return nil
}
