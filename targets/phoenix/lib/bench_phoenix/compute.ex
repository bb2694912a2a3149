defmodule BenchPhoenix.Compute do
  @moduledoc """
  The compute kernel of the contract (targets/README.md, "The compute kernel"),
  `GET /compute/rank?seed=S&rounds=R&top=K`: score every active user of the store
  with R rounds of xorshift32 started from the seed and the user's id, and rank
  them.

  32-bit unsigned arithmetic on plain integers: BEAM integers are unbounded, so
  the wrapping is explicit. Every left shift, the id product and each checksum
  addition are masked with `band(_, 0xFFFFFFFF)`; no intermediate reaches 2^45,
  so all of them are small (immediate) integers on a 64-bit VM and no bignum is
  ever allocated.
  """

  import Bitwise

  alias BenchPhoenix.Users

  @mask 0xFFFFFFFF
  # 0x9E3779B1: Knuth's multiplicative hash.
  @golden 2_654_435_761
  # 0x9E3779B9: replaces a zero start state, which xorshift cannot leave.
  @zero_seed 2_654_435_769
  @default_rounds 64
  @max_rounds 1000
  @default_top 10
  @max_top 100

  defmodule Ranked do
    @moduledoc false
    @derive {Jason.Encoder, only: [:id, :score]}
    defstruct [:id, :score]
  end

  defmodule Result do
    @moduledoc false
    # `only:` fixes the key order of the encoding, as for the users.
    @derive {Jason.Encoder, only: [:seed, :rounds, :matched, :checksum, :top]}
    defstruct [:seed, :rounds, :matched, :checksum, :top]
  end

  @doc """
  Reads seed, rounds and top from a raw query string: `{:ok, seed, rounds, top}`,
  or `{:error, field}` for the first invalid one (seed, rounds, top in that
  order). The first of repeated keys counts, as Go's `Query().Get`.
  """
  def params(query_string) do
    qs = query(query_string)

    with {:ok, seed} <- param(qs, "seed", 0, 0, @mask),
         {:ok, rounds} <- param(qs, "rounds", @default_rounds, 1, @max_rounds),
         {:ok, top} <- param(qs, "top", @default_top, 1, @max_top) do
      {:ok, seed, rounds, top}
    end
  end

  @doc """
  The decoded query string as a map; the first of repeated keys wins (the
  reversed list puts it last, and `Map.new/1` keeps the last).
  """
  def query(query_string) do
    URI.query_decoder(query_string) |> Enum.reverse() |> Map.new()
  end

  @doc """
  One parameter of `query/1`'s map, `{:ok, n}` or `{:error, key}`. Absent: the
  default. Present: ASCII digits only (not empty, no sign; leading zeros are
  fine, as Go's strconv) within lo..hi. `BenchPhoenix.GC` reads /gc/churn's
  parameters with it too.
  """
  def param(qs, key, default, lo, hi) do
    case qs do
      %{^key => value} ->
        with true <- value != "" and digits?(value),
             n when n >= lo and n <= hi <- String.to_integer(value) do
          {:ok, n}
        else
          _ -> {:error, key}
        end

      %{} ->
        {:ok, default}
    end
  end

  defp digits?(<<c, rest::binary>>) when c in ?0..?9, do: digits?(rest)
  defp digits?(<<>>), do: true
  defp digits?(_), do: false

  @doc "The answer for these parameters, a struct encoded in the contract's key order."
  def rank(seed, rounds, top) do
    {checksum, scored} = scores(Users.count(), seed, rounds, 0, [])

    # The whole list, sorted by the standard sort (:lists.sort/2 underneath):
    # highest score first, ties to the lower id.
    sorted = Enum.sort(scored, fn {s1, i1}, {s2, i2} -> s1 > s2 or (s1 == s2 and i1 <= i2) end)

    %Result{
      seed: seed,
      rounds: rounds,
      matched: length(scored),
      checksum: checksum,
      top: for({score, id} <- Enum.take(sorted, top), do: %Ranked{id: id, score: score})
    }
  end

  # Every active user of the store, as {score, id}, walked from the last id
  # down so the list comes out in id order.
  defp scores(0, _seed, _rounds, sum, acc), do: {sum, acc}

  defp scores(id, seed, rounds, sum, acc) do
    if Users.active?(id) do
      s = score(seed, id, rounds)
      scores(id - 1, seed, rounds, band(sum + s, @mask), [{s, id} | acc])
    else
      scores(id - 1, seed, rounds, sum, acc)
    end
  end

  @doc "User `id`'s score: its start state, then `rounds` rounds of xorshift32."
  def score(seed, id, rounds) do
    case bxor(seed, band(id * @golden, @mask)) do
      0 -> xorshift(@zero_seed, rounds)
      x -> xorshift(x, rounds)
    end
  end

  defp xorshift(x, 0), do: x

  defp xorshift(x, n) do
    x = bxor(x, band(bsl(x, 13), @mask))
    x = bxor(x, bsr(x, 17))
    x = bxor(x, band(bsl(x, 5), @mask))
    xorshift(x, n - 1)
  end
end
