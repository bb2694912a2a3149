// The fastify application: routes of targets/README.md, no listening. server.js
// starts it; the tests drive it with inject().

import { STATUS_CODES } from 'node:http'
import Fastify from 'fastify'
import * as schemas from './schemas.js'
import { buildStore, lookup } from './users.js'
import { validate, price } from './quote.js'
import { parseParams, compute } from './compute.js'
import { buildLiveHeap, gcWindow, parseChurnParams, churn } from './gc.js'

// liveObjects: records of the GC load's live heap (0: none), built here so
// each cluster worker holds its own, before it listens.
export function buildApp ({ liveObjects = 0 } = {}) {
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
    const body = request.body
    // No Content-Type and no body: nothing was parsed, so there is no JSON.
    if (body === undefined) {
      reply.code(400).send({ error: 'invalid json' })
      return
    }
    const field = validate(body)
    if (field !== undefined) {
      reply.code(422).send({ error: 'validation failed', field })
      return
    }
    reply.send(price(body))
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

  return app
}
