defmodule BenchPhoenixWeb.GCController do
  use BenchPhoenixWeb, :controller

  alias BenchPhoenix.GC

  # The endpoint has no Plug.Parsers, so the query string is decoded here
  # (GC.params/1), as in ComputeController.
  def churn(conn, _params) do
    case GC.params(conn.query_string) do
      {:ok, seed, n} ->
        json(conn, GC.churn(seed, n))

      {:error, field} ->
        conn
        |> put_status(:unprocessable_entity)
        |> json(%{error: "validation failed", field: field})
    end
  end

  def stats(conn, _params), do: json(conn, GC.stats())

  def reset(conn, _params) do
    :ok = GC.reset()
    send_resp(conn, :no_content, "")
  end
end
