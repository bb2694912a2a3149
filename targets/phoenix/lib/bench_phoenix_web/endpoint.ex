defmodule BenchPhoenixWeb.Endpoint do
  use Phoenix.Endpoint, otp_app: :bench_phoenix

  # No Plug.Static, no sockets, no Plug.Session, no Plug.RequestId: a JSON API
  # with nothing to serve but its four routes.

  # Code reloading is enabled by the :code_reloader config, which is off in
  # every environment of this app (prod in particular).
  if code_reloading? do
    plug Phoenix.CodeReloader
  end

  # Emits [:phoenix, :endpoint, :start | :stop] for metrics; nothing logs them
  # in prod (config :phoenix, :logger, false), so this is not request logging.
  plug Plug.Telemetry, event_prefix: [:phoenix, :endpoint]

  # No Plug.Parsers: the one route with a body, POST /orders/quote, reads and
  # decodes it in its controller, so a body that is not JSON (an empty one
  # included) is a plain 400 answer rather than a raised ParseError, and the
  # Content-Type header is not required.

  plug BenchPhoenixWeb.Router
end
