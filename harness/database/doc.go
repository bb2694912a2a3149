// Package database runs the PostgreSQL 15 that the database scenario
// (scenarios/db.yaml) measures targets against: a real server, started and
// stopped by the harness itself.
//
//   - postgres.go: the local server. A cluster made by initdb in a temporary
//     directory, its postmaster run directly as a child process (as the
//     postgres user when the harness is root) inside a cgroup of its own,
//     exactly as the local runtime pins a target (runtimes.Pin), with a
//     benchmark's tuning (see Server.settings and the README's "The
//     database" section).
//   - server.go: what both share: Spec, the settings, readiness, Stop.
//   - docker.go: the same server as a container (StartDocker), from an
//     image built offline FROM the debootstrap base with this machine's
//     PostgreSQL packages copied in; on the host's network, its budget
//     given to the engine as for a target's container; where a registry
//     is reachable, the official postgres:15-bookworm image instead, with
//     the same request (chooseImage).
//   - template.go: the data. Seed loads scenarios/db.sql once into the
//     template bench_seed; Fresh gives each target its own copy of it, so
//     every target starts from the same state.
//
// The caller defers Server.Stop right after Start: it is what removes the
// processes, the data directory and the cgroup.
package database
