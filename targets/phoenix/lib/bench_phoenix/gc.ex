defmodule BenchPhoenix.GC do
  @moduledoc """
  The GC load of the contract (targets/README.md, "The GC load"): `GET /gc/churn`'s
  items and the figures of `GET /gc/stats` / `POST /gc/reset`. The live heap is held by
  `BenchPhoenix.GC.LiveHeap`, the collection figures are kept by
  `BenchPhoenix.GC.Monitor`; the Erlang target (`bench_gc.erl`) does the same with
  plain processes.
  """

  alias BenchPhoenix.Compute
  alias BenchPhoenix.GC.Monitor

  @default_n 100
  @max_n 10_000
  @max_seed 0xFFFFFFFF
  @key_modulus 1_000_003
  @score_modulus 1000

  defmodule Item do
    @moduledoc false
    # `only:` fixes the key order of the encoding, as for the users.
    @derive {Jason.Encoder, only: [:id, :key, :score, :tags]}
    defstruct [:id, :key, :score, :tags]
  end

  defmodule Churn do
    @moduledoc false
    @derive {Jason.Encoder, only: [:seed, :n, :items]}
    defstruct [:seed, :n, :items]
  end

  defmodule Stats do
    @moduledoc false
    # A figure the BEAM does not have stays nil, encoded as null: no collection
    # stops every process, so there are no pauses to count.
    @derive {Jason.Encoder,
             only: [
               :runtime,
               :live_objects,
               :collections,
               :pauses,
               :pause_p50_ms,
               :pause_p99_ms,
               :pause_max_ms,
               :largest_process_gc_ms,
               :long_gcs
             ]}
    defstruct runtime: "beam",
              live_objects: 0,
              collections: nil,
              pauses: nil,
              pause_p50_ms: nil,
              pause_p99_ms: nil,
              pause_max_ms: nil,
              largest_process_gc_ms: nil,
              long_gcs: nil
  end

  @doc """
  Reads seed, then n, from a raw query string with the compute kernel's rules
  (`Compute.param/5`): `{:ok, seed, n}` or `{:error, field}`.
  """
  def params(query_string) do
    qs = Compute.query(query_string)

    with {:ok, seed} <- Compute.param(qs, "seed", 0, 0, @max_seed),
         {:ok, n} <- Compute.param(qs, "n", @default_n, 1, @max_n) do
      {:ok, seed, n}
    end
  end

  @doc "The n items as fresh structs, each with its own binaries (n >= 1)."
  def churn(seed, n) do
    base = rem(seed, @score_modulus)

    items =
      for j <- 0..(n - 1) do
        %Item{
          id: j,
          key: "k" <> Integer.to_string(rem(seed + j, @key_modulus)),
          score: rem(base + 7 * j, @score_modulus),
          tags: ["t" <> Integer.to_string(rem(j, 5)), "u" <> Integer.to_string(rem(j, 7))]
        }
      end

    %Churn{seed: seed, n: n, items: items}
  end

  @doc """
  The figures since the last reset. The base is read (from the monitor) before
  the count, so the difference is never negative.
  """
  def stats do
    %{live: live, base: base, max: max, count: count} = Monitor.stats()

    %Stats{
      live_objects: live,
      collections: Monitor.gc_count() - base,
      largest_process_gc_ms: max,
      long_gcs: count
    }
  end

  @doc "Starts a new window."
  def reset, do: Monitor.reset()
end
