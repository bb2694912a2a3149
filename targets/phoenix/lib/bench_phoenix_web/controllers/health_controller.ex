defmodule BenchPhoenixWeb.HealthController do
  use BenchPhoenixWeb, :controller

  def show(conn, _params), do: json(conn, %{status: "ok"})
end
