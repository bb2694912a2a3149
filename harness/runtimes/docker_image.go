package runtimes

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/benchharness/harness/harness/targets"
)

// choosePath picks a target's image path: the mode when it is forced, else
// the Dockerfile when every image it builds FROM is here or can be pulled,
// else offline. The reason goes to the user and the log.
func (d *Docker) choosePath(ctx context.Context, cli client.APIClient, m *targets.Manifest) (path, why string, err error) {
	dockerfile := filepath.Join(m.Dir, "Dockerfile")
	mode := d.mode()
	switch mode {
	case ImagesOffline:
		return ImagesOffline, "forced by BENCH_DOCKER_IMAGES=offline", nil
	case ImagesDockerfile:
		if _, err := os.Stat(dockerfile); err != nil {
			return "", "", fmt.Errorf("BENCH_DOCKER_IMAGES=dockerfile, but %s has no Dockerfile", m.Name)
		}
		return ImagesDockerfile, "forced by BENCH_DOCKER_IMAGES=dockerfile", nil
	case ImagesAuto:
	default:
		return "", "", fmt.Errorf("BENCH_DOCKER_IMAGES=%q: want auto, dockerfile or offline", mode)
	}
	bases, err := BaseImages(dockerfile)
	if os.IsNotExist(err) {
		return ImagesOffline, "the target has no Dockerfile", nil
	}
	if err != nil {
		return "", "", err
	}
	var missing []string
	for _, ref := range bases {
		if err := d.ensurePulled(ctx, cli, ref); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s)", ref, PullFailure(err)))
		}
	}
	if len(missing) > 0 {
		return ImagesOffline, "registry base images not available: " + strings.Join(missing, ", "), nil
	}
	return ImagesDockerfile, "its base images are available: " + strings.Join(bases, ", "), nil
}

// ensurePulled succeeds when ref is in the engine or a pull of it succeeds.
// Each image is tried once per process: an offline engine answers a pull at
// once (no such host), and asking again per target would only repeat it.
func (d *Docker) ensurePulled(ctx context.Context, cli client.APIClient, ref string) error {
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return nil
	}
	d.mu.Lock()
	err, tried := d.pulled[ref]
	d.mu.Unlock()
	if tried {
		return err
	}
	err = PullImage(ctx, cli, ref)
	if ctx.Err() == nil {
		d.mu.Lock()
		d.pulled[ref] = err
		d.mu.Unlock()
	}
	return err
}

// PullImage pulls ref into the engine, for at most 10 minutes.
func PullImage(ctx context.Context, cli client.APIClient, ref string) error {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	resp, err := cli.ImagePull(pctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(pctx)
}

// BaseImages lists the images a Dockerfile builds FROM, ARG defaults
// substituted, its own stages and scratch left out.
func BaseImages(dockerfile string) ([]string, error) {
	f, err := os.Open(dockerfile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	args := map[string]string{}
	stages := map[string]bool{"scratch": true}
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	var cont string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		// Line continuations join instructions split over lines.
		if l, ok := strings.CutSuffix(line, "\\"); ok {
			cont += l + " "
			continue
		}
		line, cont = cont+line, ""
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "ARG":
			// Only global ARGs (before the first FROM) apply to FROM lines;
			// later ones are harmless here as stage names never use them. A
			// default may use earlier ARGs (phoenix's BUILDER_IMAGE does).
			for _, kv := range fields[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if ok {
					args[k] = os.Expand(strings.Trim(v, `"'`), func(k string) string { return args[k] })
				}
			}
		case "FROM":
			rest := fields[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "--") { // --platform=...
				rest = rest[1:]
			}
			if len(rest) == 0 {
				continue
			}
			ref := os.Expand(rest[0], func(k string) string { return args[k] })
			if !stages[strings.ToLower(ref)] && !seen[ref] {
				seen[ref] = true
				out = append(out, ref)
			}
			if len(rest) >= 3 && strings.EqualFold(rest[1], "AS") {
				stages[strings.ToLower(rest[2])] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", dockerfile, err)
	}
	return out, nil
}

// buildDockerfile builds targets/<name>/Dockerfile with testcontainers-go
// (its .dockerignore honoured). RUN steps get the host's network, the only
// one an engine started with --bridge=none has, for package installs.
func (d *Docker) buildDockerfile(ctx context.Context, cli client.APIClient, m *targets.Manifest, logw io.Writer) (*Image, error) {
	p, err := NewProvider(logw)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	fmt.Fprintf(logw, "== docker build %s (targets/%s/Dockerfile)\n", m.Name, m.Name)
	tag, err := p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: m.Dir, Repo: "bench-" + m.Name, Tag: ImagesDockerfile, KeepImage: true, BuildLogWriter: logw,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.NetworkMode = "host"
			o.Labels = map[string]string{LabelTarget: m.Name, LabelBuild: ImagesDockerfile}
		},
	}})
	if err != nil {
		return nil, fmt.Errorf("docker build %s: %w", m.Name, err)
	}
	return tagImage(ctx, cli, tag, m.Name, ImagesDockerfile)
}

// PullFailure keeps the cause of a failed pull, e.g. "lookup
// registry-1.docker.io on 10.0.0.53:53: no such host", without the
// engine's wrapping.
func PullFailure(err error) string {
	msg := firstLine(err.Error())
	if i := strings.LastIndex(msg, "dial tcp: "); i >= 0 {
		msg = msg[i+len("dial tcp: "):]
	}
	return msg
}
