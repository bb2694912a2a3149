// Response schemas: fastify compiles them with fast-json-stringify, which
// writes properties in the order listed here. That order is the contract's
// key order, so the bytes equal the reference (checked for all 10,000 users).

const str = { type: 'string' }
const int = { type: 'integer' }

export const error = {
  type: 'object',
  properties: { error: str },
  required: ['error']
}

export const validationError = {
  type: 'object',
  properties: { error: str, field: str },
  required: ['error', 'field']
}

export const status = {
  type: 'object',
  properties: { status: str },
  required: ['status']
}

export const message = {
  type: 'object',
  properties: { message: str },
  required: ['message']
}

export const user = {
  type: 'object',
  properties: {
    id: int,
    name: str,
    email: str,
    active: { type: 'boolean' },
    created_at: str,
    tags: { type: 'array', items: str },
    address: {
      type: 'object',
      properties: { street: str, city: str, postcode: str, country: str },
      required: ['street', 'city', 'postcode', 'country']
    },
    bio: str
  },
  required: ['id', 'name', 'email', 'active', 'created_at', 'tags', 'address', 'bio']
}

export const quote = {
  type: 'object',
  properties: {
    customer_id: int,
    currency: str,
    lines: {
      type: 'array',
      items: {
        type: 'object',
        properties: { sku: str, qty: int, line_total_cents: int },
        required: ['sku', 'qty', 'line_total_cents']
      }
    },
    item_count: int,
    subtotal_cents: int,
    tax_cents: int,
    total_cents: int
  },
  required: ['customer_id', 'currency', 'lines', 'item_count', 'subtotal_cents', 'tax_cents', 'total_cents']
}

// GET /db/users/{id}/orders.
export const userOrders = {
  type: 'object',
  properties: {
    user_id: int,
    orders: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: int, created_at: str, status: str, lines: int, subtotal_cents: int },
        required: ['id', 'created_at', 'status', 'lines', 'subtotal_cents']
      }
    }
  },
  required: ['user_id', 'orders']
}

// POST /db/orders: the new id, then the quote.
export const placedOrder = {
  type: 'object',
  properties: { order_id: int, ...quote.properties },
  required: ['order_id', ...quote.required]
}

export const churn = {
  type: 'object',
  properties: {
    seed: int,
    n: int,
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: int, key: str, score: int, tags: { type: 'array', items: str } },
        required: ['id', 'key', 'score', 'tags']
      }
    }
  },
  required: ['seed', 'n', 'items']
}

// A figure the runtime does not have is null; required keeps the key there.
const intOrNull = { type: ['integer', 'null'] }
const numberOrNull = { type: ['number', 'null'] }

export const gcStats = {
  type: 'object',
  properties: {
    runtime: str,
    live_objects: int,
    collections: intOrNull,
    pauses: intOrNull,
    pause_p50_ms: numberOrNull,
    pause_p99_ms: numberOrNull,
    pause_max_ms: numberOrNull,
    largest_process_gc_ms: numberOrNull,
    long_gcs: intOrNull
  },
  required: ['runtime', 'live_objects', 'collections', 'pauses', 'pause_p50_ms', 'pause_p99_ms',
    'pause_max_ms', 'largest_process_gc_ms', 'long_gcs']
}

export const compute = {
  type: 'object',
  properties: {
    seed: int,
    rounds: int,
    matched: int,
    checksum: int,
    top: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: int, score: int },
        required: ['id', 'score']
      }
    }
  },
  required: ['seed', 'rounds', 'matched', 'checksum', 'top']
}
