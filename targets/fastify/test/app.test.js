// The examples of targets/README.md through fastify.inject(). The full
// contract (all 10,000 users) is checked by `harness verify` against a
// running server.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from '../app.js'
import { poolShare } from '../db.js'

const app = buildApp()

const USER_1 = '{"id":1,"name":"Bruno Anders","email":"bruno.anders1@example.com","active":true,"created_at":"2024-01-01T01:00:07Z","tags":["beta","billing"],"address":{"street":"101 Oak Ave","city":"Berlin","postcode":"07919","country":"DE"},"bio":"Member #1 since 2024. Writes about distributed systems, reliable APIs and the occasional benchmark."}'
const USER_10000 = '{"id":10000,"name":"Alice Brooks","email":"alice.brooks10000@example.com","active":true,"created_at":"2025-02-21T11:26:40Z","tags":["admin","apac"],"address":{"street":"200 Main St","city":"Lisbon","postcode":"90000","country":"PT"},"bio":"Member #10000 since 2025. Writes about distributed systems, reliable APIs and the occasional benchmark."}'
const ORDER = '{"customer_id":1002,"items":[{"sku":"SKU-3003","qty":1,"unit_price_cents":273},{"sku":"SKU-4004","qty":3,"unit_price_cents":1273}]}'
// Compute kernel answers printed by `bin/harness contract compute SEED ROUNDS TOP`
// (the Go reference, harness/contract/compute.go); the first is the defaults.
const RANK_DEFAULT = '{"seed":0,"rounds":64,"matched":8572,"checksum":1938938613,"top":[{"id":6669,"score":4294378245},{"id":9616,"score":4294228778},{"id":751,"score":4293558100},{"id":7470,"score":4293541840},{"id":7333,"score":4293222679},{"id":2006,"score":4292737631},{"id":5631,"score":4292606884},{"id":6253,"score":4291870001},{"id":2131,"score":4291727385},{"id":1880,"score":4291499110}]}'
const RANK_MAX_SEED = '{"seed":4294967295,"rounds":1000,"matched":8572,"checksum":1102310794,"top":[{"id":7331,"score":4294494319},{"id":7348,"score":4294162614},{"id":4497,"score":4293492108},{"id":9409,"score":4292903480},{"id":9059,"score":4291191990}]}'
const RANK_ONE = '{"seed":12345,"rounds":1,"matched":8572,"checksum":753785350,"top":[{"id":437,"score":4294186868}]}'
// GC churn answers printed by `bin/harness contract churn SEED N`
// (harness/contract/gc.go); 999999 wraps both the key and the score.
const CHURN_5_2 = '{"seed":5,"n":2,"items":[{"id":0,"key":"k5","score":5,"tags":["t0","u0"]},{"id":1,"key":"k6","score":12,"tags":["t1","u1"]}]}'
const CHURN_999999_8 = '{"seed":999999,"n":8,"items":[{"id":0,"key":"k999999","score":999,"tags":["t0","u0"]},{"id":1,"key":"k1000000","score":6,"tags":["t1","u1"]},{"id":2,"key":"k1000001","score":13,"tags":["t2","u2"]},{"id":3,"key":"k1000002","score":20,"tags":["t3","u3"]},{"id":4,"key":"k0","score":27,"tags":["t4","u4"]},{"id":5,"key":"k1","score":34,"tags":["t0","u5"]},{"id":6,"key":"k2","score":41,"tags":["t1","u6"]},{"id":7,"key":"k3","score":48,"tags":["t2","u0"]}]}'
const CHURN_MAX_3 = '{"seed":4294967295,"n":3,"items":[{"id":0,"key":"k954413","score":295,"tags":["t0","u0"]},{"id":1,"key":"k954414","score":302,"tags":["t1","u1"]},{"id":2,"key":"k954415","score":309,"tags":["t2","u2"]}]}'
const NO_DB = '{"error":"no database"}'
const invalid = (field) => `{"error":"validation failed","field":"${field}"}`
const QUOTE = '{"customer_id":1002,"currency":"USD","lines":[{"sku":"SKU-3003","qty":1,"line_total_cents":273},{"sku":"SKU-4004","qty":3,"line_total_cents":3819}],"item_count":4,"subtotal_cents":4092,"tax_cents":338,"total_cents":4430}'

const cases = [
  ['GET', '/json', undefined, 200, '{"message":"Hello, World!"}'],
  ['GET', '/users/1', undefined, 200, USER_1],
  ['GET', '/users/10000', undefined, 200, USER_10000],
  ['GET', '/users/0', undefined, 404, '{"error":"not found"}'],
  ['GET', '/users/10001', undefined, 404, '{"error":"not found"}'],
  ['GET', '/users/abc', undefined, 404, '{"error":"not found"}'],
  ['GET', '/users/-1', undefined, 404, '{"error":"not found"}'],
  ['GET', '/users/1e3', undefined, 404, '{"error":"not found"}'],
  ['GET', '/nope', undefined, 404, '{"error":"not found"}'],
  ['POST', '/orders/quote', ORDER, 200, QUOTE],
  ['POST', '/orders/quote', '{"customer_id":"x","items":[]}', 422, '{"error":"validation failed","field":"customer_id"}'],
  ['POST', '/orders/quote', '{"customer_id":7}', 422, '{"error":"validation failed","field":"items"}'],
  ['POST', '/orders/quote', '{"customer_id":7,"items":[{"sku":"A","qty":1,"unit_price_cents":1},{"sku":"B","qty":0,"unit_price_cents":1}]}', 422, '{"error":"validation failed","field":"items[1].qty"}'],
  ['POST', '/orders/quote', '[1]', 422, '{"error":"validation failed","field":"body"}'],
  ['POST', '/orders/quote', '{"customer_id":', 400, '{"error":"invalid json"}'],
  ['POST', '/orders/quote', '', 400, '{"error":"invalid json"}'],
  ['GET', '/compute/rank', undefined, 200, RANK_DEFAULT],
  ['GET', '/compute/rank?seed=4294967295&rounds=1000&top=5', undefined, 200, RANK_MAX_SEED],
  ['GET', '/compute/rank?seed=12345&rounds=1&top=1', undefined, 200, RANK_ONE],
  ['GET', '/compute/rank?rounds=0', undefined, 422, invalid('rounds')],
  ['GET', '/compute/rank?rounds=1001', undefined, 422, invalid('rounds')],
  ['GET', '/compute/rank?rounds=%2B5', undefined, 422, invalid('rounds')],
  ['GET', '/compute/rank?top=0', undefined, 422, invalid('top')],
  ['GET', '/compute/rank?top=abc', undefined, 422, invalid('top')],
  ['GET', '/compute/rank?seed=-1', undefined, 422, invalid('seed')],
  ['GET', '/compute/rank?seed=4294967296', undefined, 422, invalid('seed')],
  ['GET', '/compute/rank?seed=&rounds=0&top=0', undefined, 422, invalid('seed')],
  ['GET', '/compute/rank?rounds=0&top=0', undefined, 422, invalid('rounds')],
  ['GET', '/gc/churn?seed=5&n=2', undefined, 200, CHURN_5_2],
  ['GET', '/gc/churn?n=8&seed=999999', undefined, 200, CHURN_999999_8],
  ['GET', '/gc/churn?seed=4294967295&n=3', undefined, 200, CHURN_MAX_3],
  ['GET', '/gc/churn?seed=x&n=0', undefined, 422, invalid('seed')],
  ['GET', '/gc/churn?seed=4294967296', undefined, 422, invalid('seed')],
  ['GET', '/gc/churn?n=0', undefined, 422, invalid('n')],
  ['GET', '/gc/churn?n=10001', undefined, 422, invalid('n')],
  ['GET', '/gc/churn?n=%2B5', undefined, 422, invalid('n')],
  ['GET', '/gc/churn?n=', undefined, 422, invalid('n')],
  // The database endpoints without DATABASE_URL: a valid request is a 503;
  // the checks that need no database answer as they would with one. The
  // answers from a database are checked against a seeded PostgreSQL
  // (README.md, "Database endpoints").
  ['GET', '/db/users/7', undefined, 503, NO_DB],
  ['GET', '/db/users/10000', undefined, 503, NO_DB],
  ['GET', '/db/users/0', undefined, 404, '{"error":"not found"}'],
  ['GET', '/db/users/10001', undefined, 404, '{"error":"not found"}'],
  ['GET', '/db/users/%2B7', undefined, 404, '{"error":"not found"}'],
  ['GET', '/db/users/abc', undefined, 404, '{"error":"not found"}'],
  ['GET', '/db/users/7/orders', undefined, 503, NO_DB],
  ['GET', '/db/users/7/orders?limit=1', undefined, 503, NO_DB],
  ['GET', '/db/users/7/orders?limit=100', undefined, 503, NO_DB],
  ['GET', '/db/users/7/orders?limit=007', undefined, 503, NO_DB],
  ['GET', '/db/users/7/orders?limit=0', undefined, 422, invalid('limit')],
  ['GET', '/db/users/7/orders?limit=101', undefined, 422, invalid('limit')],
  ['GET', '/db/users/7/orders?limit=', undefined, 422, invalid('limit')],
  ['GET', '/db/users/7/orders?limit=%2B5', undefined, 422, invalid('limit')],
  ['GET', '/db/users/7/orders?limit=-1', undefined, 422, invalid('limit')],
  ['GET', '/db/users/7/orders?limit=x&limit=5', undefined, 422, invalid('limit')],
  ['GET', '/db/users/0/orders?limit=0', undefined, 404, '{"error":"not found"}'],
  ['GET', '/db/users/x/orders', undefined, 404, '{"error":"not found"}'],
  ['POST', '/db/orders', ORDER, 503, NO_DB],
  ['POST', '/db/orders', '{"customer_id":0,"items":[]}', 422, invalid('customer_id')],
  ['POST', '/db/orders', '{"customer_id":7,"items":[{"sku":"","qty":1,"unit_price_cents":1}]}', 422, invalid('items[0].sku')],
  ['POST', '/db/orders', '{"customer_id":', 400, '{"error":"invalid json"}']
]

for (const [method, url, payload, status, body] of cases) {
  test(`${method} ${url} ${payload ?? ''}`, async () => {
    const headers = payload === undefined ? {} : { 'content-type': 'application/json' }
    const res = await app.inject({ method, url, payload, headers })
    assert.equal(res.statusCode, status)
    assert.equal(res.body, body)
    assert.match(res.headers['content-type'], /^application\/json(; charset=utf-8)?$/)
  })
}

// GET /gc/stats has no fixed bytes: its shape, the window and POST /gc/reset.
test('GET /gc/stats, POST /gc/reset', async () => {
  const gcApp = buildApp({ liveObjects: 1000 })
  const stats = async () => {
    const res = await gcApp.inject({ method: 'GET', url: '/gc/stats' })
    assert.equal(res.statusCode, 200)
    assert.match(res.headers['content-type'], /^application\/json(; charset=utf-8)?$/)
    const s = JSON.parse(res.body)
    assert.deepEqual(Object.keys(s), ['runtime', 'live_objects', 'collections', 'pauses',
      'pause_p50_ms', 'pause_p99_ms', 'pause_max_ms', 'largest_process_gc_ms', 'long_gcs'])
    assert.equal(s.runtime, 'node')
    assert.equal(s.live_objects, 1000)
    // The BEAM's per-process figures are not V8's.
    assert.equal(s.largest_process_gc_ms, null)
    assert.equal(s.long_gcs, null)
    return s
  }

  const reset = await gcApp.inject({ method: 'POST', url: '/gc/reset' })
  assert.equal(reset.statusCode, 204)
  assert.equal(reset.body, '')
  const empty = await stats()
  if (empty.pauses === 0) assert.equal(empty.pause_p50_ms, null)

  // Enough short-lived objects for several scavenges; the observer reports
  // them asynchronously.
  let sink = 0
  for (let i = 0; i < 2e6; i++) sink += [i, { i }].length
  assert.ok(sink > 0)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const s = await stats()
  assert.ok(s.collections >= 1, `collections ${s.collections}`)
  assert.equal(s.pauses, s.collections)
  assert.ok(s.pause_p50_ms > 0 && s.pause_p50_ms <= s.pause_p99_ms && s.pause_p99_ms <= s.pause_max_ms,
    JSON.stringify(s))
  await gcApp.close()
})

// DB_POOL over the cluster workers: together they hold DB_POOL connections,
// each at least one.
test('poolShare', () => {
  const shares = (total, workers) => Array.from({ length: workers }, (_, i) => poolShare(total, workers, i))
  assert.deepEqual(shares(8, 1), [8])
  assert.deepEqual(shares(8, 2), [4, 4])
  assert.deepEqual(shares(8, 3), [3, 3, 2])
  assert.deepEqual(shares(2, 4), [1, 1, 1, 1])
})
