-- The database of scenarios/db.yaml: schema and seed data, loaded once per run into a
-- template database from which every target's database is copied (harness/database).
-- The users are the contract's 10,000 (targets/README.md, "The user store"), the same
-- records /users/{id} serves from memory; the orders are a million, about 100 per user,
-- with two lines each, so that listing a user's latest orders (a join, a sum and a sort
-- over ~100 orders and ~200 lines) costs the database real work. Everything is derived
-- from the row number: no randomness, the same state every time.

CREATE TABLE users (
    id         integer PRIMARY KEY,
    name       text    NOT NULL,
    email      text    NOT NULL,
    active     boolean NOT NULL,
    created_at text    NOT NULL,  -- already in the contract's form, YYYY-MM-DDTHH:MM:SSZ
    tags       text[]  NOT NULL,
    street     text    NOT NULL,
    city       text    NOT NULL,
    postcode   text    NOT NULL,
    country    text    NOT NULL,
    bio        text    NOT NULL
);

-- No foreign key to users: a quote's customer_id may be any positive 32-bit integer
-- (targets/README.md, "The quote"), and POST /db/orders stores what it priced.
CREATE TABLE orders (
    id         bigserial   PRIMARY KEY,
    user_id    integer     NOT NULL,
    created_at timestamptz NOT NULL,
    status     text        NOT NULL
);

CREATE TABLE order_lines (
    order_id         bigint  NOT NULL REFERENCES orders (id),
    line             integer NOT NULL,
    sku              text    NOT NULL,
    qty              integer NOT NULL,
    unit_price_cents integer NOT NULL,
    PRIMARY KEY (order_id, line)
);

INSERT INTO users
SELECT id,
       f.first || ' ' || l.last,
       lower(f.first) || '.' || lower(l.last) || id || '@example.com',
       id % 7 <> 0,
       to_char(to_timestamp(1704067200 + id * 3607) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       ARRAY[t.tags[id % 8 + 1], t.tags[(id % 8 + 1 + (id / 8) % 7) % 8 + 1]],
       (id % 900 + 100) || ' ' || (ARRAY['Main St', 'Oak Ave', 'Pine Rd', 'Maple Dr', 'Cedar Ln', 'Elm St',
                                         'Lake View', 'Hill Rd', 'River Way', 'Park Blvd'])[id % 10 + 1],
       (ARRAY['Lisbon', 'Berlin', 'Osaka', 'Toronto', 'Austin', 'Nairobi', 'Oslo', 'Melbourne'])[id % 8 + 1],
       lpad(((id * 7919) % 100000)::text, 5, '0'),
       (ARRAY['PT', 'DE', 'JP', 'CA', 'US', 'KE', 'NO', 'AU'])[id % 8 + 1],
       'Member #' || id || ' since ' || extract(year FROM to_timestamp(1704067200 + id * 3607) AT TIME ZONE 'UTC')::int
           || '. Writes about distributed systems, reliable APIs and the occasional benchmark.'
FROM generate_series(1, 10000) AS id,
     LATERAL (SELECT (ARRAY['Alice', 'Bruno', 'Chloe', 'Dmitri', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas',
                            'Keiko', 'Liam', 'Maya', 'Nikolai', 'Olivia', 'Pedro'])[id % 16 + 1] AS first) AS f,
     LATERAL (SELECT (ARRAY['Anders', 'Brooks', 'Costa', 'Diaz', 'Evans', 'Fischer', 'Garcia', 'Hughes', 'Ito', 'Jensen',
                            'Kowalski', 'Larsen', 'Moreau', 'Novak', 'Okafor', 'Patel'])[(id / 16) % 16 + 1] AS last) AS l,
     LATERAL (SELECT ARRAY['admin', 'beta', 'billing', 'eu', 'us', 'apac', 'mobile', 'web'] AS tags) AS t;

-- Order k: user ((k * 7919) mod 10000) + 1, placed 37 s after the one before from
-- 2024-01-01, status cycling placed, paid, shipped, delivered.
INSERT INTO orders (id, user_id, created_at, status)
SELECT k, ((k * 7919) % 10000 + 1)::int, timestamptz '2024-01-01 00:00:00+00' + k * interval '37 seconds',
       (ARRAY['placed', 'paid', 'shipped', 'delivered'])[k % 4 + 1]
FROM generate_series(1::bigint, 1000000) AS k;

-- The orders POST /db/orders adds get ids after the seed's.
SELECT setval('orders_id_seq', 1000000);

-- Two lines per order.
INSERT INTO order_lines (order_id, line, sku, qty, unit_price_cents)
SELECT k, n, 'SKU-' || (k * n * 31) % 10000, (k + n) % 5 + 1, (k * 13 + n * 7) % 10000 + 99
FROM generate_series(1, 1000000) AS k, generate_series(1, 2) AS n;

-- The listing's access path: a user's orders, newest first.
CREATE INDEX orders_user_created ON orders (user_id, created_at DESC, id DESC);
