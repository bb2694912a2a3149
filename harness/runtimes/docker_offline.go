package runtimes

import (
	"archive/tar"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/benchharness/harness/harness/targets"
)

// The offline path, for an engine that can pull nothing: the local
// runtime's native build (the same target.yaml, the same $OUT) is copied
// into an image FROM the debootstrap base (scripts/docker-base.sh), with a
// generated Dockerfile. Inside the image the target keeps the layout the
// local runtime gives it, at fixed paths:
//
//	/app/out      $OUT, the build output
//	/app/target   the target's folder (the run command's working directory)
//
// and the manifest's run command is the image's command, its $VARs expanded
// by sh at start from the image's ENV (OUT, TARGET_DIR, the manifest's env)
// and the harness's (PORT, HOST, VCPUS). A run command that names a program
// from the host's PATH (node) brings that ELF binary and the non-glibc
// libraries it links along; glibc itself is the base's, Debian bookworm as
// on the host.
const (
	offlineOut    = "/app/out"
	offlineTarget = "/app/target"
	offlineLib    = "/opt/bench/lib"
	// offlineUID runs the server unprivileged; no passwd entry is needed.
	offlineUID = "10001:10001"
)

// buildOffline builds the target natively and packs it into an image.
func (d *Docker) buildOffline(ctx context.Context, cli client.APIClient, m *targets.Manifest, logPath string, logw io.Writer) (*Image, error) {
	base := d.baseImage()
	if err := d.ensureBase(ctx, cli, m, base, logw); err != nil {
		return nil, err
	}
	d.local.InstallMissing, d.local.Log = d.InstallMissing, d.Log
	if err := d.local.Prepare(ctx, m, logPath); err != nil {
		return nil, err
	}
	ctxFile, err := os.CreateTemp("", "bench-context-*.tar")
	if err != nil {
		return nil, fmt.Errorf("create build context: %w", err)
	}
	defer os.Remove(ctxFile.Name())
	defer ctxFile.Close()
	dockerfile, err := writeOfflineContext(ctxFile, m, base)
	if err != nil {
		return nil, fmt.Errorf("pack %s for the offline image: %w", m.Name, err)
	}
	if _, err := ctxFile.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "== docker build %s (offline, generated Dockerfile):\n%s", m.Name, dockerfile)
	p, err := NewProvider(logw)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	tag, err := p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: ctxFile, Repo: "bench-" + m.Name, Tag: ImagesOffline, KeepImage: true, BuildLogWriter: logw,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			// Only an apt-get install of a packaged runtime fetches anything
			// (from Debian's mirror); the host's network is the engine's only one.
			o.NetworkMode = "host"
		},
	}})
	if err != nil {
		return nil, fmt.Errorf("docker build %s (offline): %w", m.Name, err)
	}
	return tagImage(ctx, cli, tag, m.Name, ImagesOffline)
}

// ensureBase makes sure the base image exists, building it with
// scripts/docker-base.sh when allowed (root, -install-missing).
func (d *Docker) ensureBase(ctx context.Context, cli client.APIClient, m *targets.Manifest, base string, logw io.Writer) error {
	if _, err := cli.ImageInspect(ctx, base); err == nil {
		return nil
	}
	script := findUp(m.Dir, filepath.Join("scripts", "docker-base.sh"))
	hint := "make docker-base (debootstraps Debian bookworm and imports it as " + base + "; root)"
	if !d.InstallMissing || os.Geteuid() != 0 || script == "" {
		return &SkipError{Missing: targets.Missing{What: "the offline base image " + base + " is missing", Hint: hint}}
	}
	d.mu.Lock() // one debootstrap at a time, whoever asks
	defer d.mu.Unlock()
	if _, err := cli.ImageInspect(ctx, base); err == nil {
		return nil
	}
	d.logf("docker: building the offline base image %s with %s (debootstrap, about a minute)", base, script)
	cmd := exec.CommandContext(ctx, script)
	cmd.Env = append(os.Environ(), "BENCH_BASE_IMAGE="+base)
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Run(); err != nil {
		return &SkipError{Missing: targets.Missing{What: fmt.Sprintf("building the offline base image %s failed (%v); see the target's log", base, err), Hint: hint}}
	}
	return nil
}

// findUp looks for rel in dir and its parents (the repository root holds
// scripts/; targets live two levels below it).
func findUp(dir, rel string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return filepath.Join(dir, rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// writeOfflineContext writes the build context: the generated Dockerfile,
// out/ ($OUT), target/ (the target's folder) and, when the run command is a
// host program, host/ with it and its libraries. It returns the Dockerfile.
func writeOfflineContext(w io.Writer, m *targets.Manifest, base string) (string, error) {
	env := buildEnv(m)
	tw := tar.NewWriter(w)
	if err := addTree(tw, env["OUT"], "out", func(rel string) bool { return rel == ".build-stamp" }); err != nil {
		return "", fmt.Errorf("add $OUT: %w", err)
	}
	if err := addTree(tw, m.Dir, "target", func(rel string) bool { return rel == ".git" }); err != nil {
		return "", fmt.Errorf("add the target folder: %w", err)
	}
	imageEnv := map[string]string{"OUT": offlineOut, "TARGET_DIR": offlineTarget, "HOME": "/tmp", "HOST": "127.0.0.1"}
	for k, v := range m.Env {
		imageEnv[k] = v
	}
	hostFiles, libs, apt, err := interpreterClosure(m, imageEnv)
	if err != nil {
		return "", err
	}
	for dst, src := range hostFiles {
		if err := AddFile(tw, src, "host"+dst); err != nil {
			return "", fmt.Errorf("add %s: %w", src, err)
		}
	}
	if libs {
		imageEnv["LD_LIBRARY_PATH"] = offlineLib
	}
	df := offlineDockerfile(m, base, imageEnv, len(hostFiles) > 0, apt)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df)), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	if _, err := io.WriteString(tw, df); err != nil {
		return "", err
	}
	return df, tw.Close()
}

func offlineDockerfile(m *targets.Manifest, base string, env map[string]string, host bool, apt []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by the harness (offline path) for targets/%s: its native build\n", m.Name)
	b.WriteString("# ($OUT) and folder on the debootstrap base; see harness/runtimes/docker_offline.go.\n")
	fmt.Fprintf(&b, "FROM %s\n", base)
	fmt.Fprintf(&b, "LABEL %s=%q %s=%q\n", LabelTarget, m.Name, LabelBuild, ImagesOffline)
	if host {
		b.WriteString("COPY host/ /\n")
	}
	if len(apt) > 0 {
		// The run program is a script over a Debian-packaged runtime (erl):
		// the same packages from the same Debian release as on the host.
		fmt.Fprintf(&b, "RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends %s \\\n"+
			" && apt-get clean && rm -rf /var/lib/apt/lists/*\n", strings.Join(apt, " "))
	}
	fmt.Fprintf(&b, "COPY --chown=%s target/ %s/\n", offlineUID, offlineTarget)
	fmt.Fprintf(&b, "COPY --chown=%s out/ %s/\n", offlineUID, offlineOut)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("ENV")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, env[k])
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "WORKDIR %s\nUSER %s\n", offlineTarget, offlineUID)
	// sh expands the manifest's $OUT, $PORT, $VCPUS... at start, then execs
	// the server, so it gets the signals.
	words := make([]string, len(m.Run))
	for i, a := range m.Run {
		words[i] = shellQuoteKeepVars(a)
	}
	fmt.Fprintf(&b, "CMD [\"/bin/sh\", \"-c\", %q]\n", "exec "+strings.Join(words, " "))
	return b.String()
}

// shellQuoteKeepVars double-quotes s for sh, leaving $VAR and ${VAR} to be
// expanded as the local runtime's os.Expand does.
func shellQuoteKeepVars(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}

// interpreterClosure returns what an image needs when the run command's
// program is not part of the build but a program of this machine's PATH:
// an ELF binary (node) comes along with the non-glibc libraries it links
// (files: image path -> host path; libs: some went to offlineLib); a script
// over a packaged runtime (erl) is installed in the image from the Debian
// packages its toolchain entry names (apt).
func interpreterClosure(m *targets.Manifest, imageEnv map[string]string) (files map[string]string, libs bool, apt []string, err error) {
	prog := os.Expand(m.Run[0], func(k string) string { return imageEnv[k] })
	if strings.Contains(prog, "/") {
		// Inside $OUT or the target folder (or relative to it): packed already.
		return nil, false, nil, nil
	}
	hostPath, err := exec.LookPath(prog)
	if err != nil {
		return nil, false, nil, fmt.Errorf("the run command's program %q is not on this machine's PATH: %w", prog, err)
	}
	real, err := filepath.EvalSymlinks(hostPath)
	if err != nil {
		return nil, false, nil, err
	}
	f, err := elf.Open(real)
	if err != nil {
		for _, tc := range m.Toolchain {
			if tc.Bin == prog && len(tc.Apt) > 0 {
				return nil, false, tc.Apt, nil
			}
		}
		return nil, false, nil, fmt.Errorf("the run command's program %s is not an ELF binary and target.yaml names no Debian "+
			"package (toolchain apt:) for %s, so the offline image cannot carry it", real, prog)
	}
	f.Close()
	files = map[string]string{"/usr/local/bin/" + prog: real}
	deps, err := SharedLibs(real)
	if err != nil {
		return nil, false, nil, err
	}
	for _, lib := range deps {
		files[offlineLib+"/"+filepath.Base(lib.Name)] = lib.Path
		libs = true
	}
	return files, libs, nil, nil
}

// SharedLib is one library a binary loads: its soname (Name, as the binary asks
// for it) and the file it resolves to on this machine (Path, links followed).
type SharedLib struct{ Name, Path string }

// glibc's own libraries stay the base image's: they must match its ld.so.
var glibc = []string{"linux-vdso", "ld-linux", "libc.so", "libm.so", "libdl.so", "libpthread.so", "librt.so",
	"libresolv.so", "libutil.so", "libanl.so", "libnsl.so", "libcrypt.so"}

// SharedLibs lists, with ldd, the libraries bin loads, glibc's left out.
func SharedLibs(bin string) ([]SharedLib, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		// A static binary: ldd says "not a dynamic executable" and fails.
		return nil, nil
	}
	var libs []SharedLib
lines:
	for _, line := range strings.Split(string(out), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), " => ")
		if !ok {
			continue
		}
		for _, g := range glibc {
			if strings.HasPrefix(name, g) {
				continue lines
			}
		}
		path := strings.Fields(rest)
		if len(path) == 0 || !strings.HasPrefix(path[0], "/") {
			return nil, fmt.Errorf("%s needs %s, which this machine lacks", bin, name)
		}
		real, err := filepath.EvalSymlinks(path[0])
		if err != nil {
			return nil, err
		}
		libs = append(libs, SharedLib{Name: name, Path: real})
	}
	return libs, nil
}

// addTree adds the tree at dir under prefix, symlinks as links; skip tells
// which top-level entries (relative names) to leave out.
func addTree(tw *tar.Writer, dir, prefix string, skip func(rel string) bool) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "." && skip(rel) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(filepath.Join(prefix, rel))
		if e.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}

// AddFile adds one regular file (links followed) at name, with its parents.
func AddFile(tw *tar.Writer, src, name string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return err
	}
	hdr.Name = name
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
