defmodule BenchPhoenixWeb.ComputeController do
  use BenchPhoenixWeb, :controller

  alias BenchPhoenix.Compute

  # The endpoint has no Plug.Parsers, so `params` holds the path parameters
  # only: the query string is decoded here (Compute.params/1).
  def rank(conn, _params) do
    case Compute.params(conn.query_string) do
      {:ok, seed, rounds, top} ->
        json(conn, Compute.rank(seed, rounds, top))

      {:error, field} ->
        conn
        |> put_status(:unprocessable_entity)
        |> json(%{error: "validation failed", field: field})
    end
  end
end
