defmodule BenchPhoenixWeb.QuoteController do
  use BenchPhoenixWeb, :controller

  alias BenchPhoenix.Quote

  # Plug.Parsers' default limit.
  @max_body 8_000_000

  def create(conn, _params) do
    case read_body(conn, length: @max_body) do
      {:ok, body, conn} ->
        case Jason.decode(body) do
          {:ok, order} -> answer(conn, Quote.price(order))
          {:error, _} -> error(conn, :bad_request, %{error: "invalid json"})
        end

      {:more, _partial, conn} ->
        error(conn, :request_entity_too_large, %{error: "body too large"})

      {:error, _reason} ->
        error(conn, :bad_request, %{error: "invalid json"})
    end
  end

  defp answer(conn, {:ok, quote}), do: json(conn, quote)

  defp answer(conn, {:error, field}),
    do: error(conn, :unprocessable_entity, %{error: "validation failed", field: field})

  defp error(conn, status, body) do
    conn
    |> put_status(status)
    |> json(body)
  end
end
