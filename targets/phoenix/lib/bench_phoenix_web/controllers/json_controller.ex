defmodule BenchPhoenixWeb.JsonController do
  use BenchPhoenixWeb, :controller

  # TechEmpower's JSON test: a map encoded per request, never a cached buffer.
  def show(conn, _params), do: json(conn, %{message: "Hello, World!"})
end
