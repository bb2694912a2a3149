package targets

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Missing describes why a target cannot be built here, and how to fix it.
type Missing struct {
	What string // e.g. "toolchain erl", or the failing requirements' reasons
	Hint string // the exact command to run
	// Apt are the Debian packages that would fix it, if any.
	Apt []string
}

func (m Missing) String() string {
	if m.Hint == "" {
		return m.What
	}
	return m.What + "; to fix: " + m.Hint
}

// CheckToolchain reports the first toolchain binary not on PATH.
func (m *Manifest) CheckToolchain() *Missing {
	for _, t := range m.Toolchain {
		if _, err := exec.LookPath(t.Bin); err != nil {
			hint := t.Hint
			if hint == "" && len(t.Apt) > 0 {
				hint = "apt-get install -y " + strings.Join(t.Apt, " ")
			}
			return &Missing{What: fmt.Sprintf("toolchain %q not found on PATH", t.Bin), Hint: hint, Apt: m.AptPackages()}
		}
	}
	return nil
}

// CheckRequirements runs every requirement's check in the target folder and
// reports all that fail, in manifest order: one fix may need another first
// (mix needs the Hex archive before it can fetch deps), so their hints are
// joined into one command. The first line a failing check prints on stdout
// is added to its reason (e.g. which packages are missing).
func (m *Manifest) CheckRequirements(ctx context.Context) *Missing {
	var whats, hints, apt []string
	for _, r := range m.Requires {
		cmd := exec.CommandContext(ctx, "sh", "-c", r.Check)
		cmd.Dir = m.Dir
		out, err := cmd.Output()
		if err == nil {
			continue
		}
		what := r.Reason
		if detail := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]); detail != "" {
			what += " (" + detail + ")"
		}
		whats = append(whats, what)
		if r.Hint != "" {
			hints = append(hints, r.Hint)
		}
		apt = append(apt, r.Apt...)
	}
	if len(whats) == 0 {
		return nil
	}
	return &Missing{What: strings.Join(whats, "; "), Hint: strings.Join(hints, " && "), Apt: apt}
}

// AptPackages lists the Debian packages of the toolchains that are missing.
func (m *Manifest) AptPackages() []string {
	var pkgs []string
	for _, t := range m.Toolchain {
		if _, err := exec.LookPath(t.Bin); err != nil {
			pkgs = append(pkgs, t.Apt...)
		}
	}
	return pkgs
}

// CanAptInstall tells whether installing Debian packages is possible: root on
// a Debian-like system with apt-get.
func CanAptInstall() bool {
	if os.Geteuid() != 0 {
		return false
	}
	_, err := exec.LookPath("apt-get")
	return err == nil
}

// Versions runs each toolchain's version command and returns its first line.
func (m *Manifest) Versions(ctx context.Context) map[string]string {
	out := map[string]string{}
	for _, t := range m.Toolchain {
		if t.Version == "" {
			continue
		}
		b, err := exec.CommandContext(ctx, "sh", "-c", t.Version).CombinedOutput()
		line := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		if err != nil {
			line = "unknown (" + err.Error() + ")"
		}
		out[t.Bin] = line
	}
	return out
}
