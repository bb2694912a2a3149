defmodule BenchPhoenixWeb do
  @moduledoc """
  The entrypoint for defining the web interface: `use BenchPhoenixWeb, :controller`
  and `use BenchPhoenixWeb, :router`, as `mix phx.new --no-html --no-assets`
  generates it.
  """

  def router do
    quote do
      use Phoenix.Router, helpers: false

      import Plug.Conn
      import Phoenix.Controller
    end
  end

  def controller do
    quote do
      use Phoenix.Controller, formats: [:json]

      import Plug.Conn
    end
  end

  @doc """
  When used, dispatch to the appropriate controller/router/etc.
  """
  defmacro __using__(which) when is_atom(which) do
    apply(__MODULE__, which, [])
  end
end
