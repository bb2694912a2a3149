// Package agent runs the loader as several processes, on one machine or
// across many, and merges what they measured into one step.
//
// An agent (`harness agent`) is the same loader as the in-process one
// (load.Attack, its sentinel, its CPU figures), driven by Commands instead
// of a peak search: each command is one step's share of the load, with the
// instant every agent must start at. It answers each command with a Report
// line on its standard output: its tally (hdrhistogram-go's encoding of its
// latency histograms, counts, status codes and errors), when it actually
// began, and its own CPU and added latency.
//
// A coordinator (Local here; the Kubernetes runtime's Job elsewhere) splits a
// step across its agents (Split), sends the commands, collects one report
// from each, and merges them (Merge): one histogram of every request, and
// the step loader-bound when any agent was. Agents that began further apart
// than StartTolerance, an agent that failed or died, and histograms with
// other settings fail the step, with the reason.
package agent
