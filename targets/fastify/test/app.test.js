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
  ['POST', '/orders/quote', '', 400, '{"error":"invalid json"}']
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
