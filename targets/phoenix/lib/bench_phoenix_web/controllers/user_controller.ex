defmodule BenchPhoenixWeb.UserController do
  use BenchPhoenixWeb, :controller

  alias BenchPhoenix.Users

  # The record is a struct whose derived Jason.Encoder writes the contract's
  # key order; it is encoded on every request.
  def show(conn, %{"id" => id}) do
    case Users.get(parse_id(id)) do
      nil ->
        conn
        |> put_status(:not_found)
        |> json(%{error: "not found"})

      user ->
        json(conn, user)
    end
  end

  # A decimal integer: digits only (no sign, no spaces); anything else, and
  # anything outside 1..10000, is not found.
  defp parse_id(id) when byte_size(id) > 0 do
    if digits?(id), do: String.to_integer(id), else: nil
  end

  defp parse_id(_), do: nil

  defp digits?(<<c, rest::binary>>) when c in ?0..?9, do: digits?(rest)
  defp digits?(<<>>), do: true
  defp digits?(_), do: false
end
