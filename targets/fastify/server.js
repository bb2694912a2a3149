// Fastify reference target: the contract of targets/README.md.
//
// Environment: PORT (required), HOST (default 127.0.0.1), VCPUS (worker
// processes; default: the CPUs this process may use), GC_LIVE_OBJECTS
// (records of the live heap each serving process holds; default 0: none),
// DATABASE_URL and DB_POOL (the database endpoints' PostgreSQL and the
// connections of all serving processes together; without DATABASE_URL the
// /db/ routes answer 503).
//
// VCPUS > 1: the primary forks VCPUS workers with node:cluster and serves
// nothing itself; it accepts connections and hands them round-robin to the
// workers (cluster's default on Linux, as in TechEmpower's fastify entry).
// VCPUS = 1: this process serves directly. A primary with one worker would
// only add a second runtime's memory and a hand-off per connection to the
// same single CPU.

import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'

function fail (msg) {
  console.error(`fastify: ${msg}`)
  process.exit(1)
}

function wholeNumber (name, fallback) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') {
    if (fallback === undefined) fail(`${name} is not set`)
    return fallback
  }
  if (!/^[0-9]+$/.test(raw)) fail(`${name}=${JSON.stringify(raw)}: want a whole number`)
  return Number(raw)
}

const port = wholeNumber('PORT')
const host = process.env.HOST || '127.0.0.1'
const vcpus = wholeNumber('VCPUS', availableParallelism())
if (vcpus < 1) fail('VCPUS must be at least 1')
// Read (and refused if malformed) in the primary too, so a bad value stops
// the server before any worker is forked.
const liveObjects = wholeNumber('GC_LIVE_OBJECTS', 0)
const databaseUrl = process.env.DATABASE_URL || undefined
// Required with a database: the harness gives every target the same size,
// and a silent default would make the pools differ.
const dbPool = databaseUrl === undefined ? 0 : wholeNumber('DB_POOL')
if (databaseUrl !== undefined && dbPool < 1) fail('DB_POOL must be at least 1')

if (vcpus > 1 && cluster.isPrimary) {
  runPrimary(vcpus)
} else {
  await serve()
}

function runPrimary (workers) {
  let stopping = false
  let alive = workers
  for (let i = 0; i < workers; i++) cluster.fork()

  const stop = () => {
    stopping = true
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM')
  }
  // As PID 1 in a container node has no default signal handlers, so
  // SIGTERM/SIGINT are handled explicitly and passed on to the workers.
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)

  // A worker that dies takes the server down rather than being replaced:
  // a benchmark must see a crash, and a worker that cannot listen (port in
  // use) would otherwise be re-forked forever.
  // A worker that cannot start (database, listen) says why; the primary
  // prints the first such line alone and stops the others.
  cluster.on('message', (worker, msg) => {
    if (stopping || typeof msg?.startupError !== 'string') return
    console.error(`fastify: ${msg.startupError}`)
    process.exitCode = 1
    stop()
  })

  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`fastify: worker ${worker.process.pid} exited (${signal ?? code}); stopping`)
      process.exitCode = 1
      stop()
    }
    // Counted here rather than read from cluster.workers, which drops a
    // worker only once its IPC channel has closed too.
    if (--alive === 0) process.exit()
  })
}

// startupFailed ends a serving process that cannot start. A cluster worker
// hands the line to the primary, which prints it once for all workers.
function startupFailed (msg) {
  if (cluster.isWorker) {
    process.send({ startupError: msg }, () => process.exit(1))
    return
  }
  fail(msg)
}

async function serve () {
  // Imported here, not at the top: the primary never loads fastify, pg or
  // builds the store, which keeps its memory to a bare Node.js process.
  const { buildApp } = await import('./app.js')
  let db
  if (databaseUrl !== undefined) {
    const { openDB, poolShare } = await import('./db.js')
    // Each cluster worker has its own pool (node processes share nothing):
    // DB_POOL is split over them, so together they hold DB_POOL connections.
    // Workers are never re-forked, so their ids are 1..vcpus.
    const size = cluster.isWorker ? poolShare(dbPool, vcpus, cluster.worker.id - 1) : dbPool
    try {
      db = await openDB(databaseUrl, size)
    } catch (err) {
      startupFailed(`database: ${err.message}`)
      return
    }
  }
  const app = buildApp({ liveObjects, db })
  const close = () => {
    app.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGTERM', close)
  process.on('SIGINT', close)
  try {
    await app.listen({ port, host })
  } catch (err) {
    startupFailed(`listen on ${host}:${port}: ${err.message}`)
  }
}
