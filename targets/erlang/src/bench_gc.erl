%% The GC load of targets/README.md ("The GC load"): the live heap, GET
%% /gc/churn, GET /gc/stats and POST /gc/reset.
%%
%% The BEAM collects each process's heap on its own, so the live heap is a
%% list of maps in the state of one long-lived process (not ETS or
%% persistent_term, which live outside every process heap), and the figures
%% are the VM's count of collections plus the collections that took at least
%% a millisecond (erlang:system_monitor's long_gc), reported to a monitor
%% process. Neither process is linked to the start-up process that spawns
%% them, which exits once the listener runs.
-module(bench_gc).

-export([init/1, params/1, churn/2, stats/0, reset/0]).

-define(DEFAULT_N, 100).
-define(MAX_N, 10000).
-define(MAX_SEED, 16#FFFFFFFF).
-define(KEY_MODULUS, 1000003).
-define(SCORE_MODULUS, 1000).
%% erlang:system_monitor's long_gc threshold in ms: its resolution.
-define(LONG_GC_MS, 1).
-define(HOLDER, bench_gc_live).
-define(MONITOR, bench_gc_monitor).

%% Starts the monitor, then builds the N records in their holder; returns
%% once the heap is complete, so the listener opens after it. The monitor
%% comes first: the figures since start include the build's collections.
init(N) ->
    Monitor = spawn(fun() -> monitor_loop(#{live => N, base => gc_count(), max => 0, count => 0}) end),
    register(?MONITOR, Monitor),
    %% A single setting per node: this process is the node's only
    %% system monitor.
    erlang:system_monitor(Monitor, [{long_gc, ?LONG_GC_MS}]),
    Self = self(),
    {Holder, Ref} = spawn_monitor(fun() ->
                                          Live = live(N - 1, []),
                                          Self ! {?HOLDER, built},
                                          hold(Live)
                                  end),
    register(?HOLDER, Holder),
    receive
        {?HOLDER, built} ->
            erlang:demonitor(Ref, [flush]),
            ok;
        {'DOWN', Ref, process, _, Reason} ->
            io:format(standard_error, "cannot build the live heap of ~p records: ~p~n", [N, Reason]),
            erlang:halt(1)
    end.

%% Records K down to 0, so the list comes out in id order. Every binary is
%% built here, per record: none is a shared literal.
live(K, Acc) when K >= 0 ->
    Record = #{id => K,
               name => <<"live-", (integer_to_binary(K))/binary>>,
               tags => [<<"a", (integer_to_binary(K rem 10))/binary>>,
                        <<"b", (integer_to_binary(K rem 100))/binary>>]},
    live(K - 1, [Record | Acc]);
live(_, Acc) ->
    Acc.

%% Live stays an argument of the loop, so it is live data on this process's
%% heap for as long as the node runs. Nobody sends it anything: a message
%% could start a collection of the whole heap, which is not the load.
hold(Live) ->
    receive
        _ -> hold(Live)
    end.

%% The monitor's state: the live record count, the VM's collection count at
%% the last reset, and the longest and the number of long_gc reports since.
monitor_loop(State = #{max := Max, count := Count}) ->
    receive
        {monitor, _Pid, long_gc, Info} ->
            Ms = case lists:keyfind(timeout, 1, Info) of
                     {timeout, T} -> T;
                     false -> 0
                 end,
            monitor_loop(State#{max := max(Max, Ms), count := Count + 1});
        {stats, From, Ref} ->
            From ! {Ref, State},
            monitor_loop(State);
        {reset, From, Ref} ->
            From ! {Ref, ok},
            monitor_loop(State#{base := gc_count(), max := 0, count := 0});
        _ ->
            monitor_loop(State)
    end.

call(Msg) ->
    Ref = erlang:monitor(process, ?MONITOR),
    ?MONITOR ! {Msg, self(), Ref},
    receive
        {Ref, Reply} ->
            erlang:demonitor(Ref, [flush]),
            Reply;
        {'DOWN', Ref, process, _, Reason} ->
            error({?MONITOR, Reason})
    end.

gc_count() ->
    {Count, _Words, _} = erlang:statistics(garbage_collection),
    Count.

%% GET /gc/stats as jiffy EJSON, keys in the contract's order. The base is
%% read before the count, so the difference is never negative.
stats() ->
    #{live := Live, base := Base, max := Max, count := Count} = call(stats),
    {[{<<"runtime">>, <<"beam">>},
      {<<"live_objects">>, Live},
      {<<"collections">>, gc_count() - Base},
      %% No collection stops every process: the BEAM has no pauses to count.
      {<<"pauses">>, null},
      {<<"pause_p50_ms">>, null},
      {<<"pause_p99_ms">>, null},
      {<<"pause_max_ms">>, null},
      {<<"largest_process_gc_ms">>, Max},
      {<<"long_gcs">>, Count}]}.

%% POST /gc/reset: a new window starts.
reset() ->
    call(reset).

%% Qs is the decoded query string, as for bench_compute:params/1. Answers
%% {ok, Seed, N} or {invalid, FieldName}, checking seed, then n.
params(Qs) ->
    case bench_compute:param("seed", Qs, 0, 0, ?MAX_SEED) of
        error ->
            {invalid, <<"seed">>};
        Seed ->
            case bench_compute:param("n", Qs, ?DEFAULT_N, 1, ?MAX_N) of
                error -> {invalid, <<"n">>};
                N -> {ok, Seed, N}
            end
    end.

%% GET /gc/churn's answer: N fresh items as jiffy EJSON (the {[{Key, Value}]}
%% form keeps the contract's key order), each with its own binaries.
churn(Seed, N) ->
    Base = Seed rem ?SCORE_MODULUS,
    {[{<<"seed">>, Seed},
      {<<"n">>, N},
      {<<"items">>,
       [{[{<<"id">>, J},
          {<<"key">>, <<"k", (integer_to_binary((Seed + J) rem ?KEY_MODULUS))/binary>>},
          {<<"score">>, (Base + 7 * J) rem ?SCORE_MODULUS},
          {<<"tags">>, [<<"t", (integer_to_binary(J rem 5))/binary>>,
                        <<"u", (integer_to_binary(J rem 7))/binary>>]}]}
        || J <- lists:seq(0, N - 1)]}]}.
