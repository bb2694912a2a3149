defmodule BenchPhoenix.Quote do
  @moduledoc """
  `POST /orders/quote`: validation in the order of the contract, then pricing.
  Nothing is stored.
  """

  @max_items 100
  @max_sku 64
  @max_qty 1000
  @max_price 10_000_000
  @max_customer 2_147_483_647

  @doc """
  Validates a decoded JSON body and prices it: `{:ok, quote}`, or
  `{:error, field}` naming the first invalid field.
  """
  def price(%{} = order) do
    with {:ok, customer_id} <- int_field(order, "customer_id", 1, @max_customer, "customer_id"),
         {:ok, items} <- items(Map.get(order, "items")),
         {:ok, lines, item_count, subtotal} <- lines(items, 0, [], 0, 0) do
      # 8.25 %, rounded half up in integer cents.
      tax = div(subtotal * 825 + 5000, 10_000)

      {:ok,
       %{
         customer_id: customer_id,
         currency: "USD",
         lines: lines,
         item_count: item_count,
         subtotal_cents: subtotal,
         tax_cents: tax,
         total_cents: subtotal + tax
       }}
    end
  end

  def price(_not_an_object), do: {:error, "body"}

  defp items(items) when is_list(items) do
    case length(items) do
      n when n >= 1 and n <= @max_items -> {:ok, items}
      _ -> {:error, "items"}
    end
  end

  defp items(_), do: {:error, "items"}

  defp lines([], _i, acc, count, subtotal), do: {:ok, Enum.reverse(acc), count, subtotal}

  defp lines([item | rest], i, acc, count, subtotal) do
    with {:ok, item} <- object(item, i),
         {:ok, sku} <- sku(item, i),
         {:ok, qty} <- int_field(item, "qty", 1, @max_qty, i),
         {:ok, price} <- int_field(item, "unit_price_cents", 0, @max_price, i) do
      line_total = qty * price
      line = %{sku: sku, qty: qty, line_total_cents: line_total}
      lines(rest, i + 1, [line | acc], count + qty, subtotal + line_total)
    end
  end

  defp object(%{} = item, _i), do: {:ok, item}
  defp object(_, i), do: {:error, "items[#{i}]"}

  defp sku(item, i) do
    case Map.get(item, "sku") do
      sku when is_binary(sku) and byte_size(sku) >= 1 and byte_size(sku) <= @max_sku -> {:ok, sku}
      _ -> {:error, "items[#{i}].sku"}
    end
  end

  # `where` is the field's name for the order, or the item's index.
  defp int_field(map, key, lo, hi, where) do
    case int_in(Map.get(map, key), lo, hi) do
      {:ok, n} -> {:ok, n}
      :error when is_integer(where) -> {:error, "items[#{where}].#{key}"}
      :error -> {:error, where}
    end
  end

  # "integer" = a JSON number with no fractional part: 3 and 3.0 both count.
  defp int_in(n, lo, hi) when is_integer(n) and n >= lo and n <= hi, do: {:ok, n}

  defp int_in(n, lo, hi) when is_float(n) and n >= lo and n <= hi do
    t = trunc(n)
    if t == n, do: {:ok, t}, else: :error
  end

  defp int_in(_n, _lo, _hi), do: :error
end
