# Read when the release boots (and by `mix phx.server`), not at compile time:
# PORT, HOST, PHX_SERVER and GC_LIVE_OBJECTS come from the harness's environment.
import Config

if System.get_env("PHX_SERVER") do
  config :bench_phoenix, BenchPhoenixWeb.Endpoint, server: true
end

# Records of the GC load's live heap (BenchPhoenix.GC.LiveHeap); unset or empty: none.
gc_live_objects =
  case System.get_env("GC_LIVE_OBJECTS", "") do
    "" ->
      0

    value ->
      case Integer.parse(value) do
        {n, ""} when n >= 0 ->
          n

        _ ->
          raise "environment variable GC_LIVE_OBJECTS must be a whole number, got: #{inspect(value)}"
      end
  end

config :bench_phoenix, :gc_live_objects, gc_live_objects

if config_env() == :prod do
  port =
    case Integer.parse(System.get_env("PORT") || "") do
      {port, ""} when port in 1..65_535 ->
        port

      _ ->
        raise "environment variable PORT must be a TCP port number, got: #{inspect(System.get_env("PORT"))}"
    end

  # Bind exactly HOST (default 127.0.0.1): an IPv4 or IPv6 literal, or a name
  # resolved once at boot.
  host = System.get_env("HOST", "") |> String.trim()
  host = if host == "", do: "127.0.0.1", else: host

  ip =
    case :inet.parse_address(String.to_charlist(host)) do
      {:ok, ip} ->
        ip

      {:error, _} ->
        case :inet.getaddr(String.to_charlist(host), :inet) do
          {:ok, ip} -> ip
          {:error, reason} -> raise "HOST #{inspect(host)} cannot be resolved: #{inspect(reason)}"
        end
    end

  # No sessions, cookies or signed tokens exist in this API, so the key is
  # never used to sign anything; Phoenix still wants one at boot.
  secret_key_base =
    System.get_env("SECRET_KEY_BASE") ||
      "bench-phoenix-api-has-no-sessions-so-this-key-signs-nothing-0123456789abcdef"

  config :bench_phoenix, BenchPhoenixWeb.Endpoint,
    http: [
      ip: ip,
      port: port,
      # Responses are ~350 bytes of JSON: gzip would cost more CPU than it
      # saves, and the other targets send identity bodies too (Bandit
      # compresses by default whenever the client sends Accept-Encoding).
      http_options: [compress: false, log_protocol_errors: false]
    ],
    secret_key_base: secret_key_base
end
