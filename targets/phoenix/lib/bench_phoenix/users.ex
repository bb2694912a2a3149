defmodule BenchPhoenix.Users do
  @moduledoc """
  The in-memory user store of the contract (targets/README.md): users 1..10000,
  generated at start-up into a tuple held in `:persistent_term`, so a lookup is
  an O(1) `elem/2` with no copy. Each request encodes the record it looks up.
  """

  defmodule Address do
    @moduledoc false
    # `only:` fixes the key order of the encoding (Jason keeps the list order).
    @derive {Jason.Encoder, only: [:street, :city, :postcode, :country]}
    defstruct [:street, :city, :postcode, :country]
  end

  defmodule User do
    @moduledoc false
    @derive {Jason.Encoder,
             only: [:id, :name, :email, :active, :created_at, :tags, :address, :bio]}
    defstruct [:id, :name, :email, :active, :created_at, :tags, :address, :bio]
  end

  @count 10_000
  @first ~w(Alice Bruno Chloe Dmitri Elena Farid Grace Hiro Ines Jonas Keiko Liam Maya Nikolai Olivia Pedro)
         |> List.to_tuple()
  @last ~w(Anders Brooks Costa Diaz Evans Fischer Garcia Hughes Ito Jensen Kowalski Larsen Moreau Novak Okafor Patel)
        |> List.to_tuple()
  @tags ~w(admin beta billing eu us apac mobile web) |> List.to_tuple()
  @streets {"Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St", "Lake View",
            "Hill Rd", "River Way", "Park Blvd"}
  @cities {{"Lisbon", "PT"}, {"Berlin", "DE"}, {"Osaka", "JP"}, {"Toronto", "CA"},
           {"Austin", "US"}, {"Nairobi", "KE"}, {"Oslo", "NO"}, {"Melbourne", "AU"}}
  # 2024-01-01T00:00:00Z; user N was created N * 3607 s later.
  @epoch 1_704_067_200

  @key {__MODULE__, :store}

  def count, do: @count

  @doc "Builds the store; called once by the application before the endpoint starts."
  def load do
    store = 1..@count |> Enum.map(&build/1) |> List.to_tuple()
    :persistent_term.put(@key, store)
    :ok
  end

  @doc "The user with this id (1..10000)."
  def get(id) when is_integer(id) and id >= 1 and id <= @count do
    elem(:persistent_term.get(@key), id - 1)
  end

  def get(_id), do: nil

  @doc "User `id`'s `active` flag, without the record (the compute kernel scores active users only)."
  def active?(id), do: rem(id, 7) != 0

  @doc "Derives user `id` with the rules of the contract."
  def build(id) do
    first = elem(@first, rem(id, 16))
    last = elem(@last, rem(div(id, 16), 16))
    created = DateTime.from_unix!(@epoch + id * 3607)
    {city, country} = elem(@cities, rem(id, 8))

    %User{
      id: id,
      name: first <> " " <> last,
      email:
        String.downcase(first) <>
          "." <> String.downcase(last) <> Integer.to_string(id) <> "@example.com",
      active: active?(id),
      # UTC, whole seconds: "2024-01-01T01:00:07Z"
      created_at: DateTime.to_iso8601(created),
      tags: [
        elem(@tags, rem(id, 8)),
        elem(@tags, rem(rem(id, 8) + 1 + rem(div(id, 8), 7), 8))
      ],
      address: %Address{
        street: Integer.to_string(rem(id, 900) + 100) <> " " <> elem(@streets, rem(id, 10)),
        city: city,
        postcode: rem(id * 7919, 100_000) |> Integer.to_string() |> String.pad_leading(5, "0"),
        country: country
      },
      bio:
        "Member ##{id} since #{created.year}. Writes about distributed systems, reliable APIs and the occasional benchmark."
    }
  end
end
