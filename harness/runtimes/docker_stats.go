package runtimes

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/benchharness/harness/harness/sample"
)

// statsSource samples a container through the engine's stats API, for an
// engine whose cgroups this process cannot read (a remote DOCKER_HOST, a
// VM). Each read is a one-shot stats call; CPU is the delta of the
// container's cumulative CPU time, memory is the engine's usage less
// inactive page cache, as `docker stats` shows it (so it is not summed per
// process like the cgroup reading; results record which source was used).
type statsSource struct {
	cli client.APIClient
	id  string

	lastCPU float64
	lastAt  time.Time
}

func (s *statsSource) Read(ctx context.Context) (sample.Reading, error) {
	res, err := s.cli.ContainerStats(ctx, s.id, client.ContainerStatsOptions{Stream: false})
	if err != nil {
		return sample.Reading{}, fmt.Errorf("container stats: %w", err)
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return sample.Reading{}, fmt.Errorf("decode container stats: %w", err)
	}
	r := sample.Reading{At: time.Now()}
	cpu := float64(st.CPUStats.CPUUsage.TotalUsage) / 1e9
	if !s.lastAt.IsZero() {
		r.Interval = r.At.Sub(s.lastAt)
		r.CPUSeconds = max(0, cpu-s.lastCPU)
	}
	s.lastAt, s.lastCPU = r.At, cpu
	mem := st.MemoryStats.Usage
	for _, k := range []string{"total_inactive_file", "inactive_file"} { // v1, v2
		if v, ok := st.MemoryStats.Stats[k]; ok && v < mem {
			mem -= v
			break
		}
	}
	r.RSSBytes = mem
	return r, nil
}
