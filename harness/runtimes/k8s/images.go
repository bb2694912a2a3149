package k8s

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/benchharness/harness/harness/runtimes"
	"github.com/benchharness/harness/harness/targets"
)

// PlaceholderRegistry names images in a dry run without BENCH_REGISTRY.
const PlaceholderRegistry = "registry.example/bench"

// ImageRef is <registry>/bench-<name>:<tag>; the run id is the tag, so a
// run's pods run the images that run pushed.
func ImageRef(registry, name, tag string) string {
	if registry == "" {
		registry = PlaceholderRegistry
	}
	return fmt.Sprintf("%s/bench-%s:%s", strings.TrimSuffix(registry, "/"), strings.ToLower(name), labelValue(tag))
}

// Images builds images with the local Docker engine, as the docker runtime
// does (its Dockerfile or offline path), tags them for the registry and
// pushes them there. It needs an engine and a registry the cluster can
// pull from; neither exists where this was written, so it has not run.
type Images struct {
	Registry string
	Tag      string
	Docker   *runtimes.Docker
	Log      io.Writer
}

// registryAuth is BENCH_REGISTRY_AUTH (base64 of the engine's JSON auth
// config), or an empty config for a registry that needs none: the engine
// wants the header either way.
func registryAuth() string {
	if a := os.Getenv("BENCH_REGISTRY_AUTH"); a != "" {
		return a
	}
	return base64.URLEncoding.EncodeToString([]byte("{}"))
}

// PushTarget builds the target's image and pushes it as ImageRef.
func (im *Images) PushTarget(ctx context.Context, m *targets.Manifest, logPath string) (string, error) {
	if err := im.Docker.Prepare(ctx, m, logPath); err != nil {
		return "", err
	}
	img, ok := im.Docker.BuiltImage(m.Name)
	if !ok {
		return "", fmt.Errorf("image of %s: the docker runtime built none", m.Name)
	}
	return im.push(ctx, img.Tag, ImageRef(im.Registry, m.Name, im.Tag))
}

// harnessDockerfile runs the harness binary on the offline base image,
// which has the host's glibc, as the uid the targets run as.
const harnessDockerfile = `FROM %s
COPY harness /usr/local/bin/harness
USER 10001
ENTRYPOINT ["/usr/local/bin/harness"]
`

// PushHarness builds the image of the agents and the sidecar from the
// harness binary exe and pushes it as ImageRef(registry, "harness", tag).
func (im *Images) PushHarness(ctx context.Context, exe string) (string, error) {
	var buf bytes.Buffer
	if err := harnessContext(&buf, exe, runtimes.BaseImage()); err != nil {
		return "", err
	}
	p, err := runtimes.NewProvider(im.Log)
	if err != nil {
		return "", err
	}
	defer p.Close()
	local, err := p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: bytes.NewReader(buf.Bytes()), Repo: "bench-harness", Tag: labelValue(im.Tag), KeepImage: true, BuildLogWriter: im.Log}})
	if err != nil {
		return "", fmt.Errorf("docker build the harness image: %w", err)
	}
	return im.push(ctx, local, ImageRef(im.Registry, "harness", im.Tag))
}

func harnessContext(w io.Writer, exe, base string) error {
	tw := tar.NewWriter(w)
	df := fmt.Sprintf(harnessDockerfile, base)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(df))}); err != nil {
		return err
	}
	if _, err := io.WriteString(tw, df); err != nil {
		return err
	}
	if err := runtimes.AddFile(tw, exe, "harness"); err != nil {
		return fmt.Errorf("add %s to the harness image: %w", exe, err)
	}
	return tw.Close()
}

// push tags local as ref and pushes it.
func (im *Images) push(ctx context.Context, local, ref string) (string, error) {
	cli, err := runtimes.NewClient(ctx)
	if err != nil {
		return "", err
	}
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: local, Target: ref}); err != nil {
		return "", fmt.Errorf("tag %s as %s: %w", local, ref, err)
	}
	resp, err := cli.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: registryAuth()})
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	if im.Log != nil {
		fmt.Fprintf(im.Log, "k8s: pushed %s\n", ref)
	}
	return ref, nil
}
