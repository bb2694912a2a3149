import Config

config :bench_phoenix, BenchPhoenixWeb.Endpoint,
  http: [ip: {127, 0, 0, 1}, port: 4002],
  secret_key_base: "test-only-secret-key-base-not-used-for-sessions-0123456789abcdef012345678",
  server: false

config :logger, level: :warning
