// The fastify application: routes of targets/README.md, no listening. server.js
// starts it; the tests drive it with inject().

import { STATUS_CODES } from 'node:http'
import Fastify from 'fastify'
import * as schemas from './schemas.js'
import { buildStore, lookup, parseId } from './users.js'
import { validate, price } from './quote.js'
import { param, parseParams, compute } from './compute.js'
import { buildLiveHeap, gcWindow, parseChurnParams, churn } from './gc.js'

// refuseOrder answers a quote body that is not a valid order (400 or 422)
// and returns true; POST /orders/quote and POST /db/orders share it.
function refuseOrder (body, reply) {
  // No Content-Type and no body: nothing was parsed, so there is no JSON.
  if (body === undefined) {
    reply.code(400).send({ error: 'invalid json' })
    return true
  }
  const field = validate(body)
  if (field !== undefined) {
    reply.code(422).send({ error: 'validation failed', field })
    return true
  }
  return false
}

// Limits of GET /db/users/{id}/orders.
const ORDERS_DEFAULT_LIMIT = 10
const ORDERS_MAX_LIMIT = 100

// liveObjects: records of the GC load's live heap (0: none), built here so
// each cluster worker holds its own, before it listens. db: this process's
// database (what db.js's openDB resolves to), or undefined without one (the
// /db/ routes then answer 503).
export function buildApp ({ liveObjects = 0, db } = {}) {
  const users = buildStore()
  const gc = gcWindow(buildLiveHeap(liveObjects))

  const app = Fastify({
    // TechEmpower's production rules: no request or access log.
    logger: false,
    // The contract ignores unknown keys, so a body with a "__proto__" or
    // "constructor" key is valid JSON to price. Dropping those keys is as safe
    // as fastify's default (refusing the body) and keeps the answer a quote.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove'
  })

  // The gc observer would otherwise outlive a closed app (the tests build one).
  app.addHook('onClose', (instance, done) => {
    gc.close()
    done()
  })

  // Only application/json is parsed. Without this, fastify's text/plain
  // parser would hand a JSON document sent as text to the validator as a
  // string (a 422 "body"); now any other media type is a 415.
  app.removeContentTypeParser('text/plain')

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'not found' })
  })

  // fastify's default error body ({statusCode, code, error, message}) is not
  // the contract's: a body that fails to parse is {"error":"invalid json"},
  // other client errors name their status.
  app.setErrorHandler((err, request, reply) => {
    if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      reply.code(400).send({ error: 'invalid json' })
      return
    }
    const code = err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500
    reply.code(code).send({ error: STATUS_CODES[code].toLowerCase() })
  })

  // Plain handlers that call reply.send, as TechEmpower's fastify entry
  // writes them: an async handler adds a promise per request for nothing here.
  app.get('/health', { schema: { response: { 200: schemas.status } } }, (request, reply) => {
    reply.send({ status: 'ok' })
  })

  app.get('/json', { schema: { response: { 200: schemas.message } } }, (request, reply) => {
    reply.send({ message: 'Hello, World!' })
  })

  app.get('/users/:id', {
    schema: { response: { 200: schemas.user, 404: schemas.error } }
  }, (request, reply) => {
    const user = lookup(users, request.params.id)
    if (user === undefined) {
      reply.code(404).send({ error: 'not found' })
      return
    }
    reply.send(user)
  })

  app.post('/orders/quote', {
    schema: {
      response: { 200: schemas.quote, 400: schemas.error, 422: schemas.validationError }
    }
  }, (request, reply) => {
    if (refuseOrder(request.body, reply)) return
    reply.send(price(request.body))
  })

  app.get('/compute/rank', {
    schema: { response: { 200: schemas.compute, 422: schemas.validationError } }
  }, (request, reply) => {
    const params = parseParams(request.query)
    if (params.field !== undefined) {
      reply.code(422).send({ error: 'validation failed', field: params.field })
      return
    }
    reply.send(compute(users, params))
  })

  app.get('/gc/churn', {
    schema: { response: { 200: schemas.churn, 422: schemas.validationError } }
  }, (request, reply) => {
    const params = parseChurnParams(request.query)
    if (params.field !== undefined) {
      reply.code(422).send({ error: 'validation failed', field: params.field })
      return
    }
    reply.send(churn(params))
  })

  app.get('/gc/stats', { schema: { response: { 200: schemas.gcStats } } }, (request, reply) => {
    reply.send(gc.stats())
  })

  app.post('/gc/reset', (request, reply) => {
    gc.reset()
    reply.code(204).send()
  })

  // The database endpoints. The checks that need no database come first
  // (a bad id → 404 without a query, limit → 422, the quote's 400/422), so
  // they answer the same with or without one; a valid request without a
  // database is a 503. A database error is a 500 and one log line.
  const noDatabase = (reply) => reply.code(503).send({ error: 'no database' })
  const failed = (reply, what, err) => {
    console.error(`fastify: database: ${what}: ${err.message}`)
    return reply.code(500).send({ error: 'database' })
  }

  app.get('/db/users/:id', {
    schema: { response: { 200: schemas.user, 404: schemas.error, 500: schemas.error, 503: schemas.error } }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    if (id === undefined) return reply.code(404).send({ error: 'not found' })
    if (db === undefined) return noDatabase(reply)
    let user
    try {
      user = await db.user(id)
    } catch (err) {
      return failed(reply, 'user', err)
    }
    if (user === undefined) return reply.code(404).send({ error: 'not found' })
    return reply.send(user)
  })

  app.get('/db/users/:id/orders', {
    schema: {
      response: { 200: schemas.userOrders, 404: schemas.error, 422: schemas.validationError, 500: schemas.error, 503: schemas.error }
    }
  }, async (request, reply) => {
    const id = parseId(request.params.id)
    if (id === undefined) return reply.code(404).send({ error: 'not found' })
    const limit = param(request.query.limit, 1, ORDERS_MAX_LIMIT, ORDERS_DEFAULT_LIMIT)
    if (limit < 0) return reply.code(422).send({ error: 'validation failed', field: 'limit' })
    if (db === undefined) return noDatabase(reply)
    try {
      return reply.send(await db.userOrders(id, limit))
    } catch (err) {
      return failed(reply, 'user orders', err)
    }
  })

  app.post('/db/orders', {
    schema: {
      response: { 200: schemas.placedOrder, 400: schemas.error, 422: schemas.validationError, 500: schemas.error, 503: schemas.error }
    }
  }, async (request, reply) => {
    if (refuseOrder(request.body, reply)) return reply
    if (db === undefined) return noDatabase(reply)
    let orderId
    try {
      orderId = await db.placeOrder(request.body)
    } catch (err) {
      return failed(reply, 'place order', err)
    }
    // order_id first, then the quote's keys: the schema's order.
    return reply.send({ order_id: orderId, ...price(request.body) })
  })

  // Ends this process's connections with the app (server.js closes it on
  // SIGTERM/SIGINT).
  if (db !== undefined) {
    app.addHook('onClose', async () => {
      await db.close()
    })
  }

  return app
}
