// The examples of targets/README.md through fastify.inject(). The full
// contract (all 10,000 users) is checked by `harness verify` against a
// running server.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from '../app.js'

const app = buildApp()

const USER_1 = '{"id":1,"name":"Bruno Anders","email":"bruno.anders1@example.com","active":true,"created_at":"2024-01-01T01:00:07Z","tags":["beta","billing"],"address":{"street":"101 Oak Ave","city":"Berlin","postcode":"07919","country":"DE"},"bio":"Member #1 since 2024. Writes about distributed systems, reliable APIs and the occasional benchmark."}'
const USER_10000 = '{"id":10000,"name":"Alice Brooks","email":"alice.brooks10000@example.com","active":true,"created_at":"2025-02-21T11:26:40Z","tags":["admin","apac"],"address":{"street":"200 Main St","city":"Lisbon","postcode":"90000","country":"PT"},"bio":"Member #10000 since 2025. Writes about distributed systems, reliable APIs and the occasional benchmark."}'
const ORDER = '{"customer_id":1002,"items":[{"sku":"SKU-3003","qty":1,"unit_price_cents":273},{"sku":"SKU-4004","qty":3,"unit_price_cents":1273}]}'
// Compute kernel answers printed by `bin/harness contract compute SEED ROUNDS TOP`
// (the Go reference, harness/contract/compute.go); the first is the defaults.
const RANK_DEFAULT = '{"seed":0,"rounds":64,"matched":8572,"checksum":1938938613,"top":[{"id":6669,"score":4294378245},{"id":9616,"score":4294228778},{"id":751,"score":4293558100},{"id":7470,"score":4293541840},{"id":7333,"score":4293222679},{"id":2006,"score":4292737631},{"id":5631,"score":4292606884},{"id":6253,"score":4291870001},{"id":2131,"score":4291727385},{"id":1880,"score":4291499110}]}'
const RANK_MAX_SEED = '{"seed":4294967295,"rounds":1000,"matched":8572,"checksum":1102310794,"top":[{"id":7331,"score":4294494319},{"id":7348,"score":4294162614},{"id":4497,"score":4293492108},{"id":9409,"score":4292903480},{"id":9059,"score":4291191990}]}'
const RANK_ONE = '{"seed":12345,"rounds":1,"matched":8572,"checksum":753785350,"top":[{"id":437,"score":4294186868}]}'
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
  ['GET', '/compute/rank?rounds=0&top=0', undefined, 422, invalid('rounds')]
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
