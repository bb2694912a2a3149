package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/benchharness/harness/harness/report"
	"github.com/benchharness/harness/harness/results"
)

// percent is a flag value such as "10%" or "0.1".
type percent float64

func (p *percent) String() string { return fmt.Sprintf("%g%%", 100*float64(*p)) }

func (p *percent) Set(s string) error {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return fmt.Errorf("%q: want a percentage such as 10%% or a fraction such as 0.1", s)
	}
	if pct || v >= 1 {
		v /= 100
	}
	if v <= 0 || v >= 1 {
		return fmt.Errorf("%q: want a threshold between 0 and 100%%", s)
	}
	*p = percent(v)
	return nil
}

func compareCmd(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	threshold := percent(0.10)
	fs.Var(&threshold, "threshold", "a significant change for the worse beyond this is a regression (10% or 0.1)")
	alpha := fs.Float64("alpha", 0.05, "significance level of Welch's t-test (runs with repetitions)")
	out := fs.String("out", "", "also write the comparison as markdown to this file")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: harness compare [-threshold 10%] [-alpha 0.05] [-out FILE] <baseline-run-dir> <new-run-dir>")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("compare needs a baseline and a new run directory")
	}
	base, err := results.Read(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	cur, err := results.Read(fs.Arg(1))
	if err != nil {
		return fmt.Errorf("new run: %w", err)
	}
	if base.Manifest == nil || cur.Manifest == nil {
		return errors.New("compare: a results.json without a manifest")
	}
	c := report.Compare(base, cur, report.CompareOptions{Threshold: float64(threshold), Alpha: *alpha})
	var b bytes.Buffer
	if err := c.WriteMarkdown(&b); err != nil {
		return err
	}
	fmt.Print(b.String())
	if *out != "" {
		if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write comparison: %w", err)
		}
	}
	if len(c.Regressions) > 0 {
		return fmt.Errorf("%d regression(s) beyond %s: %s", len(c.Regressions), threshold.String(), strings.Join(c.Regressions, "; "))
	}
	return nil
}
