defmodule BenchPhoenix.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    # The 10,000 users exist before the endpoint accepts its first request.
    BenchPhoenix.Users.load()

    children = [
      BenchPhoenixWeb.Endpoint
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: BenchPhoenix.Supervisor)
  end

  @impl true
  def config_change(changed, _new, removed) do
    BenchPhoenixWeb.Endpoint.config_change(changed, removed)
    :ok
  end
end
