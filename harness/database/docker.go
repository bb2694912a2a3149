package database

// The same server as a container. No registry can be reached on this
// project's machines, so the image is built offline, the way the container
// runtime builds targets (harness/runtimes/docker_offline.go): FROM the
// debootstrap base (scripts/docker-base.sh, Debian bookworm as on the
// host), with this machine's PostgreSQL packages copied in (the files of
// postgresql-NN, postgresql-client-NN and libpq5, and the non-glibc
// libraries their binaries load), and an entrypoint that keeps the part of
// the official postgres image's interface the harness uses (POSTGRES_USER,
// POSTGRES_HOST_AUTH_METHOD, POSTGRES_INITDB_ARGS, PGDATA, a `postgres ...`
// command, SIGINT to stop), so the same request would run the official
// postgres:15: on a machine with a registry that image itself is used
// (chooseImage), pulled as the runtime pulls targets' base images.
//
// The container runs on the host's network, as targets' containers do:
// the engine here has no bridge (dockerd --bridge=none). That is why the
// testcontainers postgres module's Run is not used, only its request
// options: Run always asks for the default provider, which on an engine
// without a bridge network creates one (a private-range network this
// machine must not have), and its connection string and wait strategy go
// through a mapped port, which host networking has not.

import (
	"archive/tar"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	dockercontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/runtimes"
)

const (
	// ImageRepo names the offline images: bench-postgres:<Debian version>-offline.
	ImageRepo = "bench-postgres"
	// containerData is PGDATA in the container (a volume, as in the
	// official image, removed with the container).
	containerData = "/var/lib/postgresql/data"
	// containerSocket is the unix socket's directory in the container.
	containerSocket = "/var/run/postgresql"
	// containerLib holds the libraries copied from the host.
	containerLib = "/opt/bench/lib"
)

// container is a Docker server's engine-side state.
type container struct {
	cli       client.APIClient
	provider  *testcontainers.DockerProvider
	ctr       testcontainers.Container
	stopWatch context.CancelFunc
}

// StartDocker starts the server as a container of the offline image
// (built on first use, see OfflineImage) on the host's network, on a free
// loopback port, with the spec's CPUs, budget and memory given to the
// engine as for a target's container, and waits until it accepts
// connections. As with Start, ctx bounds the start only, the caller defers
// Stop, and a failed or cancelled start leaves no container behind.
func StartDocker(ctx context.Context, spec Spec) (*Server, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{spec: spec, done: make(chan struct{})}
	s.stop = s.stopContainer
	if err := s.startContainer(ctx); err != nil {
		_ = s.Stop(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *Server) startContainer(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	if err := s.openLog(); err != nil {
		return err
	}
	cli, err := runtimes.NewClient(ctx)
	if err != nil {
		return err
	}
	image, version, err := chooseImage(ctx, cli, s.log)
	if err != nil {
		return err
	}
	s.version = version
	if s.port, err = runtimes.FreePort(); err != nil {
		return fmt.Errorf("find a free port: %w", err)
	}
	res, pin := runtimes.ContainerResources(runtimes.Spec{
		Plan:        cpuset.Plan{TargetCPUs: s.spec.CPUs, Budget: s.spec.Budget},
		QuotaPeriod: s.spec.QuotaPeriod, MemoryBytes: s.spec.MemoryBytes,
	})
	s.pinning = "docker " + pin + ", image " + image
	provider, err := runtimes.NewProvider(s.log)
	if err != nil {
		return err
	}
	s.ctr = &container{cli: cli, provider: provider}

	cmd := []string{"postgres"}
	for _, c := range s.settings(containerSocket) {
		cmd = append(cmd, "-c", c)
	}
	req := testcontainers.GenericContainerRequest{Started: true, ContainerRequest: testcontainers.ContainerRequest{
		Image:  image,
		Name:   "bench-db-" + s.spec.Name,
		Labels: runtimes.Labels(s.spec.Name, "postgres"),
		Cmd:    cmd,
		HostConfigModifier: func(hc *dockercontainer.HostConfig) {
			hc.NetworkMode = "host"
			hc.Resources = res
			// docker-init as PID 1 passes the stop signal on and reaps.
			withInit := true
			hc.Init = &withInit
			// Parallel queries' dynamic shared memory lives in /dev/shm,
			// 64 MB by default in a container.
			hc.ShmSize = 256 << 20
		},
		LogConsumerCfg: &testcontainers.LogConsumerConfig{Consumers: []testcontainers.LogConsumer{logTo{s.log}}},
	}}
	for _, opt := range []testcontainers.ContainerCustomizer{
		tcpostgres.WithUsername(User),
		tcpostgres.WithDatabase("postgres"),
		testcontainers.WithEnv(map[string]string{
			// Trust on loopback, as the local server; the container shares
			// the host's loopback and nothing else.
			"POSTGRES_HOST_AUTH_METHOD": "trust",
			"POSTGRES_INITDB_ARGS":      "-E UTF8 --locale=C --no-sync",
			"PGPORT":                    strconv.Itoa(s.port),
		}),
	} {
		if err := opt.Customize(&req); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.log, "== postgres container %s (%s): %s\n", req.Name, s.pinning, strings.Join(cmd, " "))
	ctr, err := provider.RunContainer(ctx, req.ContainerRequest)
	if ctr != nil {
		s.ctr.ctr = ctr
	}
	if err != nil {
		return fmt.Errorf("start the postgres container: %w", err)
	}
	insp, err := cli.ContainerInspect(ctx, ctr.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect the postgres container: %w", err)
	}
	var sampling string
	s.usage, sampling = runtimes.ContainerSource(cli, ctr.GetContainerID(), insp.Container.State.Pid)
	s.pinning += ", sampled from " + sampling
	s.ctr.stopWatch = runtimes.WatchContainer(cli, ctr.GetContainerID(), &s.err, s.done)
	s.hook("container")
	return s.waitReady(ctx)
}

// stopContainer stops the container with its stop signal (SIGINT, a fast
// shutdown, as the official image), SIGKILL after stopTimeout, and removes
// it with its data volume.
func (s *Server) stopContainer(ctx context.Context) error {
	c := s.ctr
	if c == nil {
		return nil
	}
	var err error
	if c.ctr != nil {
		err = runtimes.TerminateContainer(ctx, c.cli, c.ctr, stopTimeout)
	}
	if c.stopWatch != nil {
		c.stopWatch()
		<-s.done
	}
	_ = c.provider.Close()
	return err
}

// ContainerID is the engine's id of the server's container ("" for a
// local server).
func (s *Server) ContainerID() string {
	if s.ctr == nil || s.ctr.ctr == nil {
		return ""
	}
	return s.ctr.ctr.GetContainerID()
}

type logTo struct{ w io.Writer }

func (l logTo) Accept(entry testcontainers.Log) { _, _ = l.w.Write(entry.Content) }

// OfflineImage returns the offline image of this machine's PostgreSQL
// (ImageRepo:<version>-offline) and the server's version, building the
// image when the engine lacks it. The base image must exist (make
// docker-base).
func OfflineImage(ctx context.Context, cli client.APIClient, logw io.Writer) (image, version string, err error) {
	bindir, err := Binaries()
	if err != nil {
		return "", "", err
	}
	major := filepath.Base(filepath.Dir(bindir)) // /usr/lib/postgresql/15/bin
	if majorVersion(major) < 15 {
		return "", "", fmt.Errorf("the offline image needs Debian's PostgreSQL 15 or later under /usr/lib/postgresql, found %s: apt-get install -y postgresql-15", bindir)
	}
	server := "postgresql-" + major
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", server).Output()
	if err != nil {
		return "", "", fmt.Errorf("dpkg-query %s (the offline image copies Debian's package files): %w", server, err)
	}
	version = "PostgreSQL " + strings.TrimSpace(string(out)) + " (" + server + ", offline image)"
	tag := strings.NewReplacer("+", "_", "~", "_", ":", "_").Replace(strings.TrimSpace(string(out))) + "-offline"
	image = ImageRepo + ":" + tag
	if _, err := cli.ImageInspect(ctx, image); err == nil {
		return image, version, nil
	}
	base := runtimes.BaseImage()
	if _, err := cli.ImageInspect(ctx, base); err != nil {
		return "", "", fmt.Errorf("the offline base image %s is missing: make docker-base (debootstraps Debian bookworm; root)", base)
	}
	ctxFile, err := os.CreateTemp("", "bench-postgres-context-*.tar")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(ctxFile.Name())
	defer ctxFile.Close()
	dockerfile, err := writePostgresContext(ctxFile, base, bindir, []string{server, "postgresql-client-" + major, "libpq5"})
	if err != nil {
		return "", "", fmt.Errorf("pack PostgreSQL for the offline image: %w", err)
	}
	if _, err := ctxFile.Seek(0, io.SeekStart); err != nil {
		return "", "", err
	}
	fmt.Fprintf(logw, "== docker build %s (offline, generated Dockerfile):\n%s", image, dockerfile)
	p, err := runtimes.NewProvider(logw)
	if err != nil {
		return "", "", err
	}
	defer p.Close()
	_, err = p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: ctxFile, Repo: ImageRepo, Tag: tag, KeepImage: true, BuildLogWriter: logw,
		// The one RUN step needs no network.
		BuildOptionsModifier: func(o *client.ImageBuildOptions) { o.NetworkMode = "none" },
	}})
	if err != nil {
		return "", "", fmt.Errorf("docker build %s: %w", image, err)
	}
	return image, version, nil
}

// entrypoint is the official image's interface, the part the harness
// uses: on first start a cluster is made in $PGDATA for POSTGRES_USER with
// POSTGRES_HOST_AUTH_METHOD and POSTGRES_INITDB_ARGS, then the command runs
// in its place. POSTGRES_DB is not created: the harness asks for
// "postgres", which initdb makes (and the official image then skips too).
const entrypoint = `#!/bin/sh
set -eu
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	initdb -D "$PGDATA" --username="${POSTGRES_USER:-postgres}" --auth="${POSTGRES_HOST_AUTH_METHOD:-trust}" ${POSTGRES_INITDB_ARGS:-}
fi
exec "$@"
`

// writePostgresContext writes the build context: the packages' files under
// host/ at their own paths (documentation, translations and the LLVM JIT,
// which jit=off never loads, left out), the libraries they load that the
// base lacks under host/opt/bench/lib, the entrypoint and the Dockerfile.
func writePostgresContext(w io.Writer, base, bindir string, pkgs []string) (string, error) {
	out, err := exec.Command("dpkg", append([]string{"-L"}, pkgs...)...).Output()
	if err != nil {
		return "", fmt.Errorf("dpkg -L %s: %w", strings.Join(pkgs, " "), err)
	}
	tw := tar.NewWriter(w)
	own := map[string]bool{}
	libs := map[string]string{} // soname -> host path
	var paths []string
	for _, p := range strings.Split(string(out), "\n") {
		if p != "" && !skipFile(p) {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil || fi.IsDir() || own[p] {
			continue // a diversion's or a directory's line; parents come with their files
		}
		own[p] = true
		if fi.Mode()&os.ModeSymlink != 0 {
			link, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			if err := tw.WriteHeader(&tar.Header{Name: "host" + p, Typeflag: tar.TypeSymlink, Linkname: link, Mode: 0o777}); err != nil {
				return "", err
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if err := runtimes.AddFile(tw, p, "host"+p); err != nil {
			return "", fmt.Errorf("add %s: %w", p, err)
		}
		if isELF(p) {
			deps, err := runtimes.SharedLibs(p)
			if err != nil {
				return "", err
			}
			for _, l := range deps {
				libs[l.Name] = l.Path
			}
		}
	}
	names := make([]string, 0, len(libs))
	for name, path := range libs {
		if !own[path] && !own[filepath.Join(filepath.Dir(path), name)] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := runtimes.AddFile(tw, libs[name], "host"+containerLib+"/"+filepath.Base(name)); err != nil {
			return "", fmt.Errorf("add %s: %w", libs[name], err)
		}
	}
	if err := addBytes(tw, "host/usr/local/bin/docker-entrypoint.sh", []byte(entrypoint), 0o755); err != nil {
		return "", err
	}
	df := postgresDockerfile(base, bindir)
	if err := addBytes(tw, "Dockerfile", []byte(df), 0o644); err != nil {
		return "", err
	}
	return df, tw.Close()
}

// skipFile leaves out what a server never reads.
func skipFile(p string) bool {
	for _, prefix := range []string{"/usr/share/doc/", "/usr/share/man/", "/usr/share/locale/", "/usr/share/lintian/", "/usr/share/bug/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return strings.Contains(p, "/bitcode") || strings.HasPrefix(filepath.Base(p), "llvmjit")
}

func isELF(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func addBytes(tw *tar.Writer, name string, b []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func postgresDockerfile(base, bindir string) string {
	var b strings.Builder
	b.WriteString("# Generated by the harness (harness/database/docker.go): this machine's PostgreSQL\n")
	b.WriteString("# packages on the debootstrap base, with the official postgres image's interface.\n")
	fmt.Fprintf(&b, "FROM %s\n", base)
	fmt.Fprintf(&b, "LABEL %s=%q %s=%q\n", runtimes.LabelManaged, "true", runtimes.LabelBuild, runtimes.ImagesOffline)
	b.WriteString("COPY host/ /\n")
	// uid 999, as the official image.
	fmt.Fprintf(&b, "RUN groupadd -r -g 999 postgres && useradd -r -u 999 -g postgres -d /var/lib/postgresql postgres \\\n"+
		" && install -d -o postgres -g postgres -m 700 %s && install -d -o postgres -g postgres %s\n", containerData, containerSocket)
	fmt.Fprintf(&b, "ENV PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH=%s PGDATA=%s LANG=C.UTF-8\n",
		bindir, containerLib, containerData)
	fmt.Fprintf(&b, "VOLUME %s\n", containerData)
	b.WriteString("USER postgres\n")
	// A fast shutdown, as the official image's STOPSIGNAL.
	b.WriteString("STOPSIGNAL SIGINT\n")
	b.WriteString("ENTRYPOINT [\"/usr/local/bin/docker-entrypoint.sh\"]\n")
	b.WriteString("CMD [\"postgres\"]\n")
	return b.String()
}

// OfficialImage is the official PostgreSQL image a machine with a registry
// runs: the same major version and Debian release as the offline image.
const OfficialImage = "postgres:15-bookworm"

// chooseImage picks the container's image as the container runtime picks a
// target's path (BENCH_DOCKER_IMAGES: auto, dockerfile or offline): the
// official image when it is in the engine or can be pulled, else the
// offline one. "dockerfile" insists on the official image.
func chooseImage(ctx context.Context, cli client.APIClient, logw io.Writer) (image, version string, err error) {
	mode := os.Getenv("BENCH_DOCKER_IMAGES")
	official, why, err := pickImage(mode, func() error {
		if _, ierr := cli.ImageInspect(ctx, OfficialImage); ierr == nil {
			return nil
		}
		return runtimes.PullImage(ctx, cli, OfficialImage)
	})
	if err != nil {
		return "", "", err
	}
	fmt.Fprintf(logw, "== database image: %s\n", why)
	if !official {
		return OfflineImage(ctx, cli, logw)
	}
	inspect, err := cli.ImageInspect(ctx, OfficialImage)
	if err != nil {
		return "", "", fmt.Errorf("inspect %s: %w", OfficialImage, err)
	}
	version = "PostgreSQL (official image " + OfficialImage + ")"
	if inspect.Config != nil {
		for _, e := range inspect.Config.Env {
			if v, ok := strings.CutPrefix(e, "PG_VERSION="); ok {
				version = "PostgreSQL " + v + " (official image " + OfficialImage + ")"
			}
		}
	}
	return OfficialImage, version, nil
}

// pickImage decides between the official image (true) and the offline one
// for a BENCH_DOCKER_IMAGES mode, trying pull only when it must.
func pickImage(mode string, pull func() error) (official bool, why string, err error) {
	switch mode {
	case runtimes.ImagesOffline:
		return false, "offline image, forced by BENCH_DOCKER_IMAGES=offline", nil
	case runtimes.ImagesDockerfile, "", runtimes.ImagesAuto:
	default:
		return false, "", fmt.Errorf("BENCH_DOCKER_IMAGES=%q: want auto, dockerfile or offline", mode)
	}
	if perr := pull(); perr != nil {
		if mode == runtimes.ImagesDockerfile {
			return false, "", fmt.Errorf("BENCH_DOCKER_IMAGES=dockerfile, but %s cannot be pulled: %s", OfficialImage, runtimes.PullFailure(perr))
		}
		return false, fmt.Sprintf("offline image: %s not available (%s)", OfficialImage, runtimes.PullFailure(perr)), nil
	}
	return true, "the official " + OfficialImage, nil
}
