defmodule BenchPhoenix.GC.Monitor do
  @moduledoc """
  The BEAM's own account of its collections for `GET /gc/stats`: the VM's count of
  collections (`:erlang.statistics(:garbage_collection)`, every process's) at the last
  reset, and the collections that took at least a millisecond, which
  `:erlang.system_monitor/2` reports to this process (`long_gc`; 1 ms is its
  resolution): the longest and how many since the reset.
  """
  use GenServer

  @long_gc_ms 1

  def start_link(live_objects),
    do: GenServer.start_link(__MODULE__, live_objects, name: __MODULE__)

  def stats, do: GenServer.call(__MODULE__, :stats)

  def reset, do: GenServer.call(__MODULE__, :reset)

  @doc "The VM's collection count since it started."
  def gc_count do
    {count, _words, _} = :erlang.statistics(:garbage_collection)
    count
  end

  @impl true
  def init(live_objects) do
    # A single setting per node: this process is the node's only system monitor.
    :erlang.system_monitor(self(), [{:long_gc, @long_gc_ms}])
    {:ok, %{live: live_objects, base: gc_count(), max: 0, count: 0}}
  end

  @impl true
  def handle_info({:monitor, _pid, :long_gc, info}, state) do
    ms =
      case List.keyfind(info, :timeout, 0) do
        {:timeout, t} -> t
        nil -> 0
      end

    {:noreply, %{state | max: max(state.max, ms), count: state.count + 1}}
  end

  def handle_info(_msg, state), do: {:noreply, state}

  @impl true
  def handle_call(:stats, _from, state), do: {:reply, state, state}

  def handle_call(:reset, _from, state),
    do: {:reply, :ok, %{state | base: gc_count(), max: 0, count: 0}}
end
