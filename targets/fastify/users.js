// The user store of targets/README.md, built once per process at start-up.

export const USER_COUNT = 10000

const FIRST = ['Alice', 'Bruno', 'Chloe', 'Dmitri', 'Elena', 'Farid', 'Grace', 'Hiro',
  'Ines', 'Jonas', 'Keiko', 'Liam', 'Maya', 'Nikolai', 'Olivia', 'Pedro']
const LAST = ['Anders', 'Brooks', 'Costa', 'Diaz', 'Evans', 'Fischer', 'Garcia', 'Hughes',
  'Ito', 'Jensen', 'Kowalski', 'Larsen', 'Moreau', 'Novak', 'Okafor', 'Patel']
const TAGS = ['admin', 'beta', 'billing', 'eu', 'us', 'apac', 'mobile', 'web']
const STREETS = ['Main St', 'Oak Ave', 'Pine Rd', 'Maple Dr', 'Cedar Ln', 'Elm St',
  'Lake View', 'Hill Rd', 'River Way', 'Park Blvd']
const CITIES = [['Lisbon', 'PT'], ['Berlin', 'DE'], ['Osaka', 'JP'], ['Toronto', 'CA'],
  ['Austin', 'US'], ['Nairobi', 'KE'], ['Oslo', 'NO'], ['Melbourne', 'AU']]

// 2024-01-01T00:00:00Z; user id N was created N*3607 s later.
const CREATED_EPOCH = 1704067200

export function newUser (id) {
  const first = FIRST[id % 16]
  const last = LAST[Math.floor(id / 16) % 16]
  const created = new Date((CREATED_EPOCH + id * 3607) * 1000)
  const [city, country] = CITIES[id % 8]
  // Keys in contract order; the response schema serialises them in the same order.
  return {
    id,
    name: `${first} ${last}`,
    email: `${first.toLowerCase()}.${last.toLowerCase()}${id}@example.com`,
    active: id % 7 !== 0,
    // The contract has no fraction: drop toISOString's ".000".
    created_at: created.toISOString().slice(0, 19) + 'Z',
    tags: [TAGS[id % 8], TAGS[(id % 8 + 1 + Math.floor(id / 8) % 7) % 8]],
    address: {
      street: `${id % 900 + 100} ${STREETS[id % 10]}`,
      city,
      postcode: String((id * 7919) % 100000).padStart(5, '0'),
      country
    },
    bio: `Member #${id} since ${created.getUTCFullYear()}. Writes about distributed systems, reliable APIs and the occasional benchmark.`
  }
}

// Index id holds user id; index 0 is unused so a lookup needs no arithmetic.
export function buildStore () {
  const users = new Array(USER_COUNT + 1)
  users[0] = null
  for (let id = 1; id <= USER_COUNT; id++) users[id] = newUser(id)
  return users
}

const DECIMAL_ID = /^[0-9]{1,5}$/

// parseId reads the raw path segment as a user id, or undefined. The regex
// keeps out what Number() would accept but the contract does not ("0x10",
// "1e3", " 7", "+7"). The /db/ routes use it too: a bad id is a 404 without
// a query.
export function parseId (raw) {
  if (!DECIMAL_ID.test(raw)) return undefined
  const id = Number(raw)
  return id >= 1 && id <= USER_COUNT ? id : undefined
}

export function lookup (users, raw) {
  const id = parseId(raw)
  return id === undefined ? undefined : users[id]
}
