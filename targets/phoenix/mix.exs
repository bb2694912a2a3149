defmodule BenchPhoenix.MixProject do
  use Mix.Project

  def project do
    [
      app: :bench_phoenix,
      version: "0.1.0",
      # Debian bookworm ships Elixir 1.14.0 on OTP 25; every pinned dependency
      # below supports it (the strictest, bandit and thousand_island, need ~> 1.13).
      elixir: "~> 1.14",
      elixirc_paths: ["lib"],
      start_permanent: Mix.env() == :prod,
      deps: deps(),
      releases: releases()
    ]
  end

  def application do
    [
      mod: {BenchPhoenix.Application, []},
      extra_applications: [:logger]
    ]
  end

  # Exact versions; mix.lock pins the rest of the tree (castore, hpax, mime,
  # phoenix_pubsub, phoenix_template, plug, plug_crypto, telemetry,
  # thousand_island, websock, websock_adapter) with hex.pm checksums.
  defp deps do
    [
      {:phoenix, "1.7.19"},
      {:bandit, "1.6.7"},
      {:jason, "1.4.4"}
    ]
  end

  defp releases do
    [
      bench_phoenix: [
        include_executables_for: [:unix],
        strip_beams: true
      ]
    ]
  end
end
