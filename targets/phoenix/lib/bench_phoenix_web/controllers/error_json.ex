defmodule BenchPhoenixWeb.ErrorJSON do
  @moduledoc """
  Renders the errors Phoenix catches in the endpoint, e.g. a path no route
  matches: 404 {"error":"not found"}.
  """

  def render("404.json", _assigns), do: %{error: "not found"}

  # Anything else: the status text, e.g. {"error":"Internal Server Error"}.
  def render(template, _assigns) do
    %{error: Phoenix.Controller.status_message_from_template(template)}
  end
end
