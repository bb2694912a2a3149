package runtimes

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/benchharness/harness/harness/cpuset"
	"github.com/benchharness/harness/harness/sample"
	"github.com/benchharness/harness/harness/targets"
)

// Labels on every container (and image) the Docker runtime makes, so a
// leftover of a killed harness can be found and removed: `docker ps -a
// --filter label=org.benchharness.managed`.
const (
	LabelManaged = "org.benchharness.managed"
	LabelRun     = "org.benchharness.run"
	LabelTarget  = "org.benchharness.target"
	// LabelOwner is "<hostname>:<pid>" of the harness that started the
	// container; a container whose owner is gone is a leftover.
	LabelOwner = "org.benchharness.owner"
	// LabelBuild is how an image was made: "dockerfile" or "offline".
	LabelBuild = "org.benchharness.build"
)

// Image build paths.
const (
	ImagesAuto       = "auto"       // dockerfile when its base images are here or can be pulled, else offline
	ImagesDockerfile = "dockerfile" // targets/<name>/Dockerfile, needs its registry base images
	ImagesOffline    = "offline"    // native build copied into an image FROM the debootstrap base
)

// DefaultBaseImage is the offline path's FROM, made by `make docker-base`.
const DefaultBaseImage = "bench-base:bookworm"

// Docker builds each target into an image and runs it with testcontainers-go
// on the host's network (no port mapping, no bridge), its CPU set and budget
// enforced by the engine's cgroup, and samples it from that cgroup.
//
// Two ways to an image, chosen per target (Images, or $BENCH_DOCKER_IMAGES):
// the target's own multi-stage Dockerfile when its base images are present
// or can be pulled, else the offline path (docker_offline.go): the local
// runtime's native build copied into an image FROM BaseImage.
type Docker struct {
	// InstallMissing installs missing toolchains (offline path) and builds
	// the base image when it is missing (root only).
	InstallMissing bool
	// Log receives one line per decision worth telling the user.
	Log io.Writer
	// Images is ImagesAuto (default), ImagesDockerfile or ImagesOffline.
	Images string
	// BaseImage is the offline path's FROM (default $BENCH_BASE_IMAGE, else
	// DefaultBaseImage).
	BaseImage string

	local Local

	mu     sync.Mutex
	cli    client.APIClient
	built  map[string]*Image // by target name, filled by Prepare
	pulled map[string]error  // registry probe per base image, once per process
	swept  bool
}

// Image is a target's image as Prepare made it.
type Image struct {
	Tag, ID string
	// Build is ImagesDockerfile or ImagesOffline; Why says why that path.
	Build, Why string
	SizeBytes  int64
}

// SizeMB is the image's size in MiB, as `docker images` counts it.
func (i *Image) SizeMB() float64 { return float64(i.SizeBytes) / (1 << 20) }

func (d *Docker) Name() string { return "docker" }

func (d *Docker) logf(format string, a ...any) {
	if d.Log != nil {
		fmt.Fprintf(d.Log, format+"\n", a...)
	}
}

func (d *Docker) mode() string {
	m := d.Images
	if m == "" {
		m = os.Getenv("BENCH_DOCKER_IMAGES")
	}
	if m == "" {
		return ImagesAuto
	}
	return m
}

func (d *Docker) baseImage() string {
	if d.BaseImage != "" {
		return d.BaseImage
	}
	return BaseImage()
}

// BaseImage is the offline path's FROM: $BENCH_BASE_IMAGE, else
// DefaultBaseImage.
func BaseImage() string {
	if b := os.Getenv("BENCH_BASE_IMAGE"); b != "" {
		return b
	}
	return DefaultBaseImage
}

// quietTestcontainers turns off Ryuk, the reaper container, which has to be
// pulled from a registry and so cannot start on an offline machine; the
// harness removes its containers itself (Stop, and SweepOrphans by label).
// An explicit TESTCONTAINERS_RYUK_DISABLED=false still turns Ryuk on. It
// also silences the library's banner: per-target events go to the target's
// log.
var quietTestcontainers = sync.OnceFunc(func() {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	// Host networking puts the server on this machine's loopback. Without
	// this, testcontainers takes a machine with /.dockerenv (a sandbox, CI)
	// for a container and aims its health check at the default gateway, a
	// private-range address no request of this harness may go to.
	os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	tclog.SetDefault(tclog.NewNoopLogger())
})

// NewProvider returns a testcontainers provider whose default network is the
// host's: without that, an engine with no bridge network (dockerd
// --bridge=none) makes testcontainers create one, a private-range network
// this machine must not have, and attach every container to it.
func NewProvider(logw io.Writer) (*testcontainers.DockerProvider, error) {
	quietTestcontainers()
	if logw == nil {
		logw = io.Discard
	}
	opts := testcontainers.Generic2DockerOptions(testcontainers.WithLogger(stdlog.New(logw, "testcontainers: ", stdlog.LstdFlags)))
	opts = append(opts, testcontainers.WithDefaultBridgeNetwork("host"))
	p, err := testcontainers.NewDockerProvider(opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to the Docker engine: %w", err)
	}
	return p, nil
}

// NewClient connects to the engine named by DOCKER_HOST (or the default
// socket), negotiating the API version: Debian's engine speaks 1.41.
func NewClient(ctx context.Context) (client.APIClient, error) {
	quietTestcontainers()
	c, err := testcontainers.NewDockerClientWithOpts(ctx, client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("connect to the Docker engine: %w", err)
	}
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, fmt.Errorf("ping the Docker engine: %w", err)
	}
	return c, nil
}

// engine connects once and, the first time, removes what killed runs left.
func (d *Docker) engine(ctx context.Context) (client.APIClient, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cli == nil {
		cli, err := NewClient(ctx)
		if err != nil {
			return nil, &SkipError{Missing: targets.Missing{
				What: "no Docker engine answers (" + firstLine(err.Error()) + ")",
				Hint: "make docker-up (starts dockerd --bridge=none --iptables=false; installs docker.io as root)",
			}}
		}
		d.cli = cli
		d.built = map[string]*Image{}
		d.pulled = map[string]error{}
	}
	if !d.swept {
		d.swept = true
		if n, err := SweepOrphans(ctx, d.cli); err != nil {
			d.logf("docker: looking for leftover containers: %v", err)
		} else if n > 0 {
			d.logf("docker: removed %d leftover container(s) of harness runs that no longer exist", n)
		}
	}
	return d.cli, nil
}

// Prepare builds the target's image, by its Dockerfile or offline, and
// says which path it took and why.
func (d *Docker) Prepare(ctx context.Context, m *targets.Manifest, logPath string) error {
	cli, err := d.engine(ctx)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logf.Close()

	path, why, err := d.choosePath(ctx, cli, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "== image of %s: %s path (%s)\n", m.Name, path, why)
	previous := imageID(ctx, cli, "bench-"+m.Name+":"+path)
	var img *Image
	if path == ImagesDockerfile {
		img, err = d.buildDockerfile(ctx, cli, m, logf)
	} else {
		img, err = d.buildOffline(ctx, cli, m, logPath, logf)
	}
	if err != nil {
		return err
	}
	img.Why = why
	if previous != "" && previous != img.ID {
		// A rebuild leaves the previous image untagged: remove it, or every
		// source edit would leave a dangling image behind. One still used by
		// a container stays (the engine refuses), which is fine.
		_, _ = cli.ImageRemove(ctx, previous, client.ImageRemoveOptions{PruneChildren: true})
	}
	d.logf("%s: image %s built by the %s path (%s), %.0f MB", m.Name, img.Tag, img.Build, why, img.SizeMB())
	d.mu.Lock()
	d.built[m.Name] = img
	d.mu.Unlock()
	return nil
}

// BuiltImage is the image Prepare made for a target.
func (d *Docker) BuiltImage(name string) (*Image, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	img, ok := d.built[name]
	return img, ok
}

// tagImage gives the image its path's tag and bench-<name>:latest, the tag
// docker-compose.yml runs, then reads its size.
func tagImage(ctx context.Context, cli client.APIClient, ref, name, build string) (*Image, error) {
	latest := "bench-" + name + ":latest"
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: latest}); err != nil {
		return nil, fmt.Errorf("tag %s as %s: %w", ref, latest, err)
	}
	insp, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return &Image{Tag: ref, ID: insp.ID, Build: build, SizeBytes: insp.Size}, nil
}

// imageID is the id ref points to, "" when there is none.
func imageID(ctx context.Context, cli client.APIClient, ref string) string {
	insp, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return ""
	}
	return insp.ID
}

// Start runs the prepared image on the host's network with the plan's CPU
// set and budget, and waits for its health check.
func (d *Docker) Start(ctx context.Context, m *targets.Manifest, spec Spec) (Instance, error) {
	img, ok := d.BuiltImage(m.Name)
	if !ok {
		return nil, fmt.Errorf("start %s: no image (Prepare was not called)", m.Name)
	}
	cli, err := d.engine(ctx)
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	res, pin := ContainerResources(spec)
	inst := &dockerInstance{
		url: fmt.Sprintf("http://127.0.0.1:%d", port), cli: cli, log: logf, image: img, done: make(chan struct{}),
		pinning: fmt.Sprintf("docker %s, image %s (%s path, %.0f MB)", pin, img.Tag, img.Build, img.SizeMB()),
	}
	provider, err := NewProvider(logf)
	if err != nil {
		logf.Close()
		return nil, err
	}
	inst.provider = provider
	runID := strings.TrimSuffix(spec.Name, "-"+m.Name)
	env := maps.Clone(spec.Env)
	if env == nil {
		env = map[string]string{}
	}
	env["PORT"], env["HOST"], env["VCPUS"] = strconv.Itoa(port), "127.0.0.1", strconv.Itoa(spec.Plan.Workers())
	req := testcontainers.ContainerRequest{
		Image:  img.Tag,
		Name:   "bench-" + spec.Name,
		Env:    env,
		Labels: Labels(runID, m.Name),
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.NetworkMode = "host"
			hc.Resources = res
			// docker-init as PID 1 forwards SIGTERM and reaps, so a server
			// that ignores signals as PID 1 still stops on Stop.
			withInit := true
			hc.Init = &withInit
		},
		// Host networking: the port is the server's own, on loopback.
		WaitingFor: wait.ForHTTP(m.Health).WithPort(strconv.Itoa(port) + "/tcp").WithForcedIPv4LocalHost().
			WithStartupTimeout(m.Timeout()).WithPollInterval(100 * time.Millisecond),
		LogConsumerCfg: &testcontainers.LogConsumerConfig{Consumers: []testcontainers.LogConsumer{logConsumer{logf}}},
	}
	fmt.Fprintf(logf, "== run %s: container %s, %s, PORT=%d VCPUS=%d\n", m.Name, req.Name, inst.pinning, port, spec.Plan.Workers())
	ctr, err := provider.RunContainer(ctx, req)
	if ctr != nil {
		inst.ctr = ctr
	}
	if err != nil {
		// The container may exist (created, or started but unhealthy):
		// remove it whatever went wrong, the caller's ctx included.
		_ = inst.Stop(context.Background())
		return nil, fmt.Errorf("start %s: %w", m.Name, err)
	}
	inst.id = ctr.GetContainerID()
	insp, err := cli.ContainerInspect(ctx, inst.id, client.ContainerInspectOptions{})
	if err != nil {
		_ = inst.Stop(context.Background())
		return nil, fmt.Errorf("inspect container of %s: %w", m.Name, err)
	}
	inst.usage, inst.sampling = ContainerSource(cli, inst.id, insp.Container.State.Pid)
	inst.pinning += ", sampled from " + inst.sampling
	inst.watch()
	return inst, nil
}

// ContainerResources turns a plan into the engine's cgroup settings. A
// fractional budget with the profile's quota period (10 ms) is given as
// CPUQuota/CPUPeriod, as the local runtime sets it: NanoCPUs would impose
// Docker's fixed 100 ms period, whose throttling stalls (up to 67 ms at a
// third of a CPU) would put a different latency tail on the same budget.
func ContainerResources(spec Spec) (container.Resources, string) {
	res := container.Resources{CpusetCpus: cpuset.List(spec.Plan.TargetCPUs)}
	pin := "cpuset " + res.CpusetCpus
	fractional := spec.Plan.Budget < float64(len(spec.Plan.TargetCPUs))
	if fractional && spec.QuotaPeriod > 0 {
		period := spec.QuotaPeriod.Microseconds()
		res.CPUPeriod = period
		res.CPUQuota = max(1000, int64(spec.Plan.Budget*float64(period)))
		pin += fmt.Sprintf(", CFS quota %.3g CPU per %s", spec.Plan.Budget, spec.QuotaPeriod)
	} else {
		res.NanoCPUs = int64(spec.Plan.Budget * 1e9)
		pin += fmt.Sprintf(", NanoCPUs %.3g", spec.Plan.Budget)
	}
	if spec.MemoryBytes > 0 {
		res.Memory = spec.MemoryBytes
		res.MemorySwap = spec.MemoryBytes // no swap: the limit is the limit
		pin += fmt.Sprintf(", memory %d MiB", spec.MemoryBytes>>20)
	}
	return res, pin
}

// Labels are the labels of a container of run runID.
func Labels(runID, name string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		LabelManaged: "true",
		LabelRun:     runID,
		LabelTarget:  name,
		LabelOwner:   host + ":" + strconv.Itoa(os.Getpid()),
	}
}

// ContainerSource samples a container from its cgroup when this process
// can read it (same machine as the engine), else from the stats API.
func ContainerSource(cli client.APIClient, id string, pid int) (sample.Source, string) {
	if pid > 0 {
		if cg, err := sample.ForPID(pid); err == nil {
			return cg, "cgroup " + cg.Dir()
		}
	}
	return &statsSource{cli: cli, id: id}, "the Docker stats API"
}

type logConsumer struct{ w io.Writer }

func (l logConsumer) Accept(entry testcontainers.Log) { _, _ = l.w.Write(entry.Content) }

type dockerInstance struct {
	url      string
	cli      client.APIClient
	provider *testcontainers.DockerProvider
	ctr      testcontainers.Container
	id       string
	log      *os.File
	image    *Image
	usage    sample.Source
	sampling string
	pinning  string

	done       chan struct{}
	err        error
	stopWatch  context.CancelFunc
	stopOnce   sync.Once
	stopErr    error
	watchStart sync.Once
}

func (i *dockerInstance) URL() string           { return i.url }
func (i *dockerInstance) Usage() sample.Source  { return i.usage }
func (i *dockerInstance) Done() <-chan struct{} { return i.done }
func (i *dockerInstance) Err() error            { return i.err }
func (i *dockerInstance) Pinning() string       { return i.pinning }

// ImageSizeMB is the size of the image the instance runs.
func (i *dockerInstance) ImageSizeMB() float64 { return i.image.SizeMB() }

// ContainerID is the engine's id of the container.
func (i *dockerInstance) ContainerID() string { return i.id }

// ImageSizeMB is the size of the image a Docker instance runs; 0 for any
// other runtime's instance.
func ImageSizeMB(inst Instance) float64 {
	if s, ok := inst.(interface{ ImageSizeMB() float64 }); ok {
		return s.ImageSizeMB()
	}
	return 0
}

// watch closes done when the container stops running, with its exit code.
func (i *dockerInstance) watch() {
	i.stopWatch = WatchContainer(i.cli, i.id, &i.err, i.done)
}

// WatchContainer closes done when container id stops running, after
// setting *exit to how it ended; the returned func stops watching (done
// is then closed too).
func WatchContainer(cli client.APIClient, id string, exit *error, done chan<- struct{}) (stop context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(done)
		w := cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case r := <-w.Result:
			*exit = fmt.Errorf("container exited with status %d", r.StatusCode)
			if r.Error != nil && r.Error.Message != "" {
				*exit = fmt.Errorf("%w: %s", *exit, r.Error.Message)
			}
		case err := <-w.Error:
			*exit = fmt.Errorf("waiting for the container: %w", err)
		}
	}()
	return cancel
}

// Stop stops the container (SIGTERM, SIGKILL after 3 s) and removes it;
// removal is checked, since a container left behind holds its CPU set.
func (i *dockerInstance) Stop(ctx context.Context) error {
	i.stopOnce.Do(func() {
		var errs []error
		if i.ctr != nil {
			errs = append(errs, TerminateContainer(ctx, i.cli, i.ctr, 3*time.Second))
		}
		if i.stopWatch != nil {
			i.stopWatch()
			<-i.done
		} else {
			close(i.done)
		}
		if i.provider != nil {
			_ = i.provider.Close()
		}
		i.log.Close()
		i.stopErr = errors.Join(errs...)
	})
	return i.stopErr
}

// TerminateContainer stops ctr (its stop signal, SIGKILL after grace) and
// removes it with its volumes; removal is checked, since a container left
// behind holds its CPU set. It goes on when ctx is already done.
func TerminateContainer(ctx context.Context, cli client.APIClient, ctr testcontainers.Container, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var errs []error
	if err := ctr.Terminate(ctx, testcontainers.StopTimeout(grace)); err != nil {
		errs = append(errs, fmt.Errorf("terminate container: %w", err))
	}
	id := ctr.GetContainerID()
	if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
		// Terminate failed half-way: force the removal.
		if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %.12s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// SweepOrphans removes containers labelled by a harness process that no
// longer exists on this host (one killed before it could stop them). It
// returns how many it removed.
func SweepOrphans(ctx context.Context, cli client.APIClient) (int, error) {
	host, _ := os.Hostname()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelManaged)})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	n := 0
	for _, c := range list.Items {
		h, pidStr, _ := strings.Cut(c.Labels[LabelOwner], ":")
		pid, _ := strconv.Atoi(pidStr)
		if h != host || pid <= 0 || processAlive(pid) {
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return n, fmt.Errorf("remove leftover container %.12s: %w", c.ID, err)
		}
		n++
	}
	return n, nil
}

// RemoveRun removes every container of run runID (all of a run's targets),
// for a caller that knows its run id and wants no leftover whatever happened.
func RemoveRun(ctx context.Context, cli client.APIClient, runID string) (int, error) {
	ids, err := ListRun(ctx, cli, runID)
	if err != nil {
		return 0, err
	}
	for i, id := range ids {
		if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return i, fmt.Errorf("remove container %.12s: %w", id, err)
		}
	}
	return len(ids), nil
}

// ListRun lists the ids of run runID's containers, stopped ones included.
func ListRun(ctx context.Context, cli client.APIClient, runID string) ([]string, error) {
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelManaged).Add("label", LabelRun+"="+runID)})
	if err != nil {
		return nil, fmt.Errorf("list containers of run %s: %w", runID, err)
	}
	var ids []string
	for _, c := range list.Items {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

func processAlive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ContainerInfo is what the harness needs of a container it did not start
// (`harness run --container`): how to sample it and what CPU it was given.
type ContainerInfo struct {
	ID, Name string
	// CPUs is its cpuset, nil when unrestricted.
	CPUs []int
	// Budget is its CPU limit in CPUs (NanoCPUs, or CPUQuota/CPUPeriod);
	// 0 when it has none.
	Budget float64
	Usage  sample.Source
	// Sampling says where Usage reads from.
	Sampling string
	// Exited is closed when the container stops running.
	Exited <-chan struct{}
}

// InspectContainer finds a running container by id or name and prepares to
// sample it. The watch on its exit ends with ctx.
func InspectContainer(ctx context.Context, cli client.APIClient, idOrName string) (*ContainerInfo, error) {
	insp, err := cli.ContainerInspect(ctx, idOrName, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", idOrName, err)
	}
	c := insp.Container
	if c.State == nil || !c.State.Running {
		return nil, fmt.Errorf("container %s is not running", idOrName)
	}
	info := &ContainerInfo{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/")}
	if hc := c.HostConfig; hc != nil {
		if hc.CpusetCpus != "" {
			if info.CPUs, err = cpuset.ParseList(hc.CpusetCpus); err != nil {
				return nil, fmt.Errorf("container %s cpuset %q: %w", idOrName, hc.CpusetCpus, err)
			}
		}
		switch {
		case hc.NanoCPUs > 0:
			info.Budget = float64(hc.NanoCPUs) / 1e9
		case hc.CPUQuota > 0:
			period := hc.CPUPeriod
			if period == 0 {
				period = 100_000
			}
			info.Budget = float64(hc.CPUQuota) / float64(period)
		}
	}
	info.Usage, info.Sampling = ContainerSource(cli, c.ID, c.State.Pid)
	exited := make(chan struct{})
	info.Exited = exited
	go func() {
		defer close(exited)
		w := cli.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case <-w.Result:
		case <-w.Error:
		}
	}()
	return info, nil
}
