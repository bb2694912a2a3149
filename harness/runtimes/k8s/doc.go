// Package k8s runs a benchmark on a Kubernetes cluster (RUNTIME=k8s): the
// target in a Guaranteed pod on a labelled node with a sampler sidecar
// beside it, the loader as an Indexed Job of agents (package agent) kept
// off the target's node, coordinated over the Kubernetes API.
//
// manifests.go builds every object from a plan as pure functions, so a dry
// run (dryrun.go) writes exactly what a run applies. The harness creates
// the objects, waits for readiness, publishes each step's command in a
// ConfigMap the agents watch (commands.go), reads their reports and the
// sampler's readings from the pods' logs (logs.go), and deletes everything
// labelled with the run's id on every exit path (cleanup.go).
//
// Nothing here has run against a real cluster: it is tested with
// client-go's fake clientset and by validating the dry run's manifests
// (docs/kubernetes.md).
package k8s
