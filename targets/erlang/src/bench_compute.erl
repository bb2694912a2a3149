%% GET /compute/rank?seed=S&rounds=R&top=K of targets/README.md ("The compute
%% kernel"): score every active user with R rounds of xorshift32 started from
%% the seed and the user's id, and rank them.
%%
%% 32-bit unsigned arithmetic on plain integers: every value stays below 2^45,
%% a small (immediate) integer on a 64-bit VM, and is masked back to 32 bits
%% with `band 16#FFFFFFFF` after each left shift, after the id product and
%% after each checksum addition, so no big integer is ever made.
-module(bench_compute).

-export([params/1, param/5, rank/3, score/3]).

-define(MASK, 16#FFFFFFFF).
-define(GOLDEN, 2654435761).   % 0x9E3779B1: Knuth's multiplicative hash
-define(ZERO_SEED, 2654435769). % 0x9E3779B9: replaces a zero start state
-define(MAX_SEED, 16#FFFFFFFF).
-define(DEFAULT_ROUNDS, 64).
-define(MAX_ROUNDS, 1000).
-define(DEFAULT_TOP, 10).
-define(MAX_TOP, 100).

%% Qs is the decoded query string ([{Key, Value}] strings, as
%% mochiweb_util:parse_qs/1 gives it; the first of repeated keys counts).
%% Answers {ok, Seed, Rounds, Top} or {invalid, FieldName}, checking seed,
%% rounds, top in that order.
params(Qs) ->
    case param("seed", Qs, 0, 0, ?MAX_SEED) of
        error ->
            {invalid, <<"seed">>};
        Seed ->
            case param("rounds", Qs, ?DEFAULT_ROUNDS, 1, ?MAX_ROUNDS) of
                error ->
                    {invalid, <<"rounds">>};
                Rounds ->
                    case param("top", Qs, ?DEFAULT_TOP, 1, ?MAX_TOP) of
                        error -> {invalid, <<"top">>};
                        Top -> {ok, Seed, Rounds, Top}
                    end
            end
    end.

%% Absent: the default. Present: ASCII digits only (no sign, not empty;
%% leading zeros are fine, as Go's strconv) within Lo..Hi. bench_gc reads
%% /gc/churn's parameters with it too.
param(Key, Qs, Default, Lo, Hi) ->
    case lists:keyfind(Key, 1, Qs) of
        false ->
            Default;
        {_, [_ | _] = V} ->
            case lists:all(fun(C) -> C >= $0 andalso C =< $9 end, V) of
                true ->
                    case list_to_integer(V) of
                        N when N >= Lo, N =< Hi -> N;
                        _ -> error
                    end;
                false ->
                    error
            end;
        {_, _} ->
            error
    end.

%% The answer as jiffy EJSON, keys in the contract's order.
rank(Seed, Rounds, Top) ->
    {Checksum, Scored} = scores(bench_users:count(), Seed, Rounds, 0, []),
    Sorted = lists:sort(fun({S1, I1}, {S2, I2}) ->
                                S1 > S2 orelse (S1 =:= S2 andalso I1 =< I2)
                        end, Scored),
    {[{<<"seed">>, Seed},
      {<<"rounds">>, Rounds},
      {<<"matched">>, length(Scored)},
      {<<"checksum">>, Checksum},
      {<<"top">>, [{[{<<"id">>, Id}, {<<"score">>, S}]}
                   || {S, Id} <- lists:sublist(Sorted, Top)]}]}.

%% Every active user of the store (bench_users:active/1), as {Score, Id},
%% walked from the last id down so the list comes out in id order.
scores(0, _Seed, _Rounds, Sum, Acc) ->
    {Sum, Acc};
scores(Id, Seed, Rounds, Sum, Acc) ->
    case bench_users:active(Id) of
        true ->
            S = score(Seed, Id, Rounds),
            scores(Id - 1, Seed, Rounds, (Sum + S) band ?MASK, [{S, Id} | Acc]);
        false ->
            scores(Id - 1, Seed, Rounds, Sum, Acc)
    end.

%% User Id's score: its start state, then Rounds rounds of xorshift32.
score(Seed, Id, Rounds) ->
    case Seed bxor ((Id * ?GOLDEN) band ?MASK) of
        0 -> xorshift(?ZERO_SEED, Rounds);
        X -> xorshift(X, Rounds)
    end.

xorshift(X, 0) ->
    X;
xorshift(X0, N) ->
    X1 = X0 bxor ((X0 bsl 13) band ?MASK),
    X2 = X1 bxor (X1 bsr 17),
    X3 = X2 bxor ((X2 bsl 5) band ?MASK),
    xorshift(X3, N - 1).
