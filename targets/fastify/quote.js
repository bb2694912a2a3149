// POST /orders/quote: validation in the contract's order, then pricing.

const MAX_ITEMS = 100
const MAX_SKU_BYTES = 64
const MAX_QTY = 1000
const MAX_PRICE_CENTS = 10_000_000
const MAX_CUSTOMER_ID = 2147483647

const isIntIn = (v, lo, hi) => Number.isInteger(v) && v >= lo && v <= hi

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)

// The limit is in UTF-8 bytes, not UTF-16 code units; a string has at least
// as many bytes as code units, so byteLength only runs when the length fits.
const isSku = (v) => typeof v === 'string' && v.length >= 1 && v.length <= MAX_SKU_BYTES &&
  Buffer.byteLength(v, 'utf8') <= MAX_SKU_BYTES

// validate returns the name of the first field that breaks a rule, or
// undefined when the order is valid.
export function validate (body) {
  if (!isObject(body)) return 'body'
  if (!isIntIn(body.customer_id, 1, MAX_CUSTOMER_ID)) return 'customer_id'
  const items = body.items
  if (!Array.isArray(items) || items.length < 1 || items.length > MAX_ITEMS) return 'items'
  for (let i = 0; i < items.length; i++) {
    const it = items[i]
    if (!isObject(it)) return `items[${i}]`
    if (!isSku(it.sku)) return `items[${i}].sku`
    if (!isIntIn(it.qty, 1, MAX_QTY)) return `items[${i}].qty`
    if (!isIntIn(it.unit_price_cents, 0, MAX_PRICE_CENTS)) return `items[${i}].unit_price_cents`
  }
  return undefined
}

// price computes the quote of a valid order. Within the limits the subtotal
// stays below 10^12 and subtotal * 825 below 2^53, so the arithmetic on plain
// numbers is exact; the one division is floored, and a non-integer quotient
// is at least 1/10000 below the next integer, far more than its rounding
// error, so the floor is the integer division the contract specifies.
export function price (order) {
  const lines = new Array(order.items.length)
  let itemCount = 0
  let subtotal = 0
  for (let i = 0; i < order.items.length; i++) {
    const { sku, qty, unit_price_cents: unitPrice } = order.items[i]
    const lineTotal = qty * unitPrice
    lines[i] = { sku, qty, line_total_cents: lineTotal }
    itemCount += qty
    subtotal += lineTotal
  }
  // 8.25 %, rounded half up in whole cents.
  const tax = Math.floor((subtotal * 825 + 5000) / 10000)
  return {
    customer_id: order.customer_id,
    currency: 'USD',
    lines,
    item_count: itemCount,
    subtotal_cents: subtotal,
    tax_cents: tax,
    total_cents: subtotal + tax
  }
}
