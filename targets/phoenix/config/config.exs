# Compile-time configuration shared by every environment; the environment's
# own file is imported at the end, and config/runtime.exs is read at boot.
import Config

config :bench_phoenix, BenchPhoenixWeb.Endpoint,
  url: [host: "localhost"],
  adapter: Bandit.PhoenixAdapter,
  # Unknown routes and malformed JSON bodies are answered by ErrorJSON, so
  # every answer of the API is JSON.
  render_errors: [formats: [json: BenchPhoenixWeb.ErrorJSON], layout: false]

config :phoenix, :json_library, Jason

config :logger, :console, format: "$time $metadata[$level] $message\n"

import_config "#{config_env()}.exs"
