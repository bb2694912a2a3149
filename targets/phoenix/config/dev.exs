import Config

# `mix phx.server` for local poking; the harness and the Dockerfile use the
# prod release.
config :bench_phoenix, BenchPhoenixWeb.Endpoint,
  http: [ip: {127, 0, 0, 1}, port: 4000],
  check_origin: false,
  code_reloader: false,
  debug_errors: false,
  secret_key_base: "dev-only-secret-key-base-not-used-for-sessions-0123456789abcdef0123456789"

config :logger, :console, format: "[$level] $message\n"
config :phoenix, :stacktrace_depth, 20
