defmodule BenchPhoenixWeb.Router do
  use BenchPhoenixWeb, :router

  # The API pipeline: no sessions, no flash, no CSRF protection, no secure
  # browser headers; JSON only.
  pipeline :api do
    plug :accepts, ["json"]
  end

  scope "/", BenchPhoenixWeb do
    pipe_through :api

    get "/health", HealthController, :show
    get "/json", JsonController, :show
    get "/users/:id", UserController, :show
    post "/orders/quote", QuoteController, :create
    get "/compute/rank", ComputeController, :rank
    get "/gc/churn", GCController, :churn
    get "/gc/stats", GCController, :stats
    post "/gc/reset", GCController, :reset
  end
end
