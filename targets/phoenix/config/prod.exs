import Config

# Production, as TechEmpower's rules want it: no request logging, no debug
# pages, no code reloading. Phoenix.Logger (the per-request "GET /users/1"
# and "Sent 200" lines driven by Plug.Telemetry and router telemetry) is not
# installed at all, and the Logger level drops everything below warnings.
config :phoenix, :logger, false

config :bench_phoenix, BenchPhoenixWeb.Endpoint,
  code_reloader: false,
  debug_errors: false,
  check_origin: false

config :logger, level: :warning

# PORT, HOST and the server switch are read at boot in config/runtime.exs.
