defmodule BenchPhoenix.GC.LiveHeap do
  @moduledoc """
  The live heap of the GC load: `GC_LIVE_OBJECTS` records, a list of maps that is this
  process's state, so it is live data on its own heap for the life of the node (not ETS
  or `:persistent_term`, which live outside every process heap). `init/1` builds it,
  so the supervisor starts the endpoint only once the heap is complete.

  Nothing calls this process: a message could start a collection of its whole heap,
  which is not the load.
  """
  use GenServer

  def start_link(n), do: GenServer.start_link(__MODULE__, n, name: __MODULE__)

  @impl true
  def init(n), do: {:ok, build(n - 1, [])}

  # Records k down to 0, so the list comes out in id order. Every binary is built
  # here, per record: none is a shared literal.
  defp build(k, acc) when k >= 0 do
    record = %{
      id: k,
      name: "live-" <> Integer.to_string(k),
      tags: ["a" <> Integer.to_string(rem(k, 10)), "b" <> Integer.to_string(rem(k, 100))]
    }

    build(k - 1, [record | acc])
  end

  defp build(_k, acc), do: acc
end
