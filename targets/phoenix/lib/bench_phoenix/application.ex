defmodule BenchPhoenix.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    # The 10,000 users exist before the endpoint accepts its first request.
    BenchPhoenix.Users.load()

    # config/runtime.exs reads GC_LIVE_OBJECTS.
    live_objects = Application.get_env(:bench_phoenix, :gc_live_objects, 0)

    # Started in order, each init/1 returning before the next child starts: the
    # monitor first, so the figures since start include the live heap's build,
    # then the live heap, complete before the endpoint accepts its first request.
    children = [
      {BenchPhoenix.GC.Monitor, live_objects},
      {BenchPhoenix.GC.LiveHeap, live_objects},
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
