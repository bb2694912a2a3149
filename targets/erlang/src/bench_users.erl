%% The in-memory user store of targets/README.md.
%%
%% The 10,000 records are built once at start-up as jiffy EJSON terms (the
%% {[{Key, Value}, ...]} proplist form, which keeps the contract's key order)
%% and kept in persistent_term, one key per user: a constant-time hash lookup
%% that hands the request process a reference to the record, not a copy.
%% Each request serialises the record it looks up.
%%
%% One key per user rather than one 10,000-element tuple: building the tuple
%% holds the whole list and its copy at once, and the VM keeps that start-up
%% peak as ~45 MB more resident memory for the life of the node (measured:
%% 100 MB RSS against 54 MB), which is not what the server needs to run.
-module(bench_users).

-export([init/0, lookup/1, record/1, count/0, active/1]).

-define(COUNT, 10000).
-define(EPOCH, 1704067200).

-define(FIRST, {<<"Alice">>, <<"Bruno">>, <<"Chloe">>, <<"Dmitri">>, <<"Elena">>,
                <<"Farid">>, <<"Grace">>, <<"Hiro">>, <<"Ines">>, <<"Jonas">>,
                <<"Keiko">>, <<"Liam">>, <<"Maya">>, <<"Nikolai">>, <<"Olivia">>,
                <<"Pedro">>}).
-define(LAST, {<<"Anders">>, <<"Brooks">>, <<"Costa">>, <<"Diaz">>, <<"Evans">>,
               <<"Fischer">>, <<"Garcia">>, <<"Hughes">>, <<"Ito">>, <<"Jensen">>,
               <<"Kowalski">>, <<"Larsen">>, <<"Moreau">>, <<"Novak">>, <<"Okafor">>,
               <<"Patel">>}).
-define(TAGS, {<<"admin">>, <<"beta">>, <<"billing">>, <<"eu">>, <<"us">>, <<"apac">>,
               <<"mobile">>, <<"web">>}).
-define(STREETS, {<<"Main St">>, <<"Oak Ave">>, <<"Pine Rd">>, <<"Maple Dr">>,
                  <<"Cedar Ln">>, <<"Elm St">>, <<"Lake View">>, <<"Hill Rd">>,
                  <<"River Way">>, <<"Park Blvd">>}).
-define(CITIES, {{<<"Lisbon">>, <<"PT">>}, {<<"Berlin">>, <<"DE">>},
                 {<<"Osaka">>, <<"JP">>}, {<<"Toronto">>, <<"CA">>},
                 {<<"Austin">>, <<"US">>}, {<<"Nairobi">>, <<"KE">>},
                 {<<"Oslo">>, <<"NO">>}, {<<"Melbourne">>, <<"AU">>}}).

%% Builds the store; call once before the listener starts.
init() ->
    lists:foreach(fun(Id) -> persistent_term:put({?MODULE, Id}, record(Id)) end,
                  lists:seq(1, ?COUNT)).

%% The EJSON record of Id, or not_found outside 1..10000.
lookup(Id) when is_integer(Id), Id >= 1, Id =< ?COUNT ->
    persistent_term:get({?MODULE, Id});
lookup(_) ->
    not_found.

%% The number of users (ids 1..count()).
count() ->
    ?COUNT.

%% User Id's `active` flag, without building the record (the compute kernel
%% scores active users only).
active(Id) ->
    Id rem 7 =/= 0.

%% Builds user Id with the rules of targets/README.md (0-based indexes there,
%% 1-based element/2 here).
record(Id) ->
    First = element(Id rem 16 + 1, ?FIRST),
    Last = element((Id div 16) rem 16 + 1, ?LAST),
    Created = ?EPOCH + Id * 3607,
    {{Year, _, _}, _} = calendar:system_time_to_universal_time(Created, second),
    {City, Country} = element(Id rem 8 + 1, ?CITIES),
    IdBin = integer_to_binary(Id),
    Tag2 = (Id rem 8 + 1 + (Id div 8) rem 7) rem 8,
    {[{<<"id">>, Id},
      {<<"name">>, <<First/binary, " ", Last/binary>>},
      {<<"email">>, iolist_to_binary([string:lowercase(First), $., string:lowercase(Last),
                                      IdBin, "@example.com"])},
      {<<"active">>, active(Id)},
      {<<"created_at">>,
       list_to_binary(calendar:system_time_to_rfc3339(Created, [{unit, second}, {offset, "Z"}]))},
      {<<"tags">>, [element(Id rem 8 + 1, ?TAGS), element(Tag2 + 1, ?TAGS)]},
      {<<"address">>,
       {[{<<"street">>, iolist_to_binary([integer_to_binary(Id rem 900 + 100), $\s,
                                          element(Id rem 10 + 1, ?STREETS)])},
         {<<"city">>, City},
         {<<"postcode">>, iolist_to_binary(io_lib:format("~5..0B", [(Id * 7919) rem 100000]))},
         {<<"country">>, Country}]}},
      {<<"bio">>, iolist_to_binary([<<"Member #">>, IdBin, <<" since ">>, integer_to_binary(Year),
                                    <<". Writes about distributed systems, reliable APIs "
                                      "and the occasional benchmark.">>])}]}.
