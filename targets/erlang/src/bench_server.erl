%% Reference Erlang/OTP target: MochiWeb HTTP server, jiffy JSON encoder.
%%
%% Started with `erl -noshell -noinput -s bench_server start` (target.yaml runs
%% the copy of erl that build.sh puts in $OUT/otp); reads PORT
%% (required), HOST (default 127.0.0.1), GC_LIVE_OBJECTS (records of the live
%% heap; unset or 0: none). The scheduler count comes from the
%% emulator flag +S $VCPUS:$VCPUS (see target.yaml and README.md).
-module(bench_server).

-export([start/0, handle/1]).

-define(JSON, [{"Content-Type", "application/json"}]).
%% A quote has at most 100 items of at most 64-byte SKUs: 1 MB is plenty.
-define(MAX_BODY, 1048576).

start() ->
    Port = list_to_integer(os:getenv("PORT")),
    Host = case os:getenv("HOST") of
               false -> "127.0.0.1";
               "" -> "127.0.0.1";
               H -> H
           end,
    {ok, Ip} = inet:parse_address(Host),
    LiveObjects = live_objects(os:getenv("GC_LIVE_OBJECTS")),
    bench_users:init(),
    bench_gc:init(LiveObjects),
    Options = [{name, ?MODULE},
               {link, false},
               {ip, Ip},
               {port, Port},
               {loop, {?MODULE, handle}},
               {nodelay, true},
               {backlog, 4096},
               %% MochiWeb stops accepting at 2048 open connections by
               %% default; the load generator may hold more.
               {max, 65536},
               {acceptor_pool_size, 64}],
    case mochiweb_http:start(Options) of
        {ok, _Pid} ->
            ok;
        Error ->
            io:format(standard_error, "cannot listen on ~s:~p: ~p~n", [Host, Port, Error]),
            erlang:halt(1)
    end.

%% One request; MochiWeb runs it in the connection's own process.
handle(Req) ->
    route(method(mochiweb_request:get(method, Req)), mochiweb_request:get(path, Req), Req).

%% HEAD is answered as GET; MochiWeb leaves the body out.
method('HEAD') -> 'GET';
method(M) -> M.

route('GET', "/json", Req) ->
    reply(200, {[{<<"message">>, <<"Hello, World!">>}]}, Req);
route('GET', "/users/" ++ Id, Req) ->
    case bench_users:lookup(parse_id(Id)) of
        not_found -> not_found(Req);
        User -> reply(200, User, Req)
    end;
route('POST', "/orders/quote", Req) ->
    Body = mochiweb_request:recv_body(?MAX_BODY, Req),
    case decode(Body) of
        {ok, Order} ->
            case bench_quote:quote(Order) of
                {ok, Quote} ->
                    reply(200, Quote, Req);
                {invalid, Field} ->
                    reply(422, {[{<<"error">>, <<"validation failed">>},
                                 {<<"field">>, Field}]}, Req)
            end;
        error ->
            reply(400, {[{<<"error">>, <<"invalid json">>}]}, Req)
    end;
route('GET', "/compute/rank", Req) ->
    {_, Query, _} = mochiweb_util:urlsplit_path(mochiweb_request:get(raw_path, Req)),
    case bench_compute:params(mochiweb_util:parse_qs(Query)) of
        {ok, Seed, Rounds, Top} ->
            reply(200, bench_compute:rank(Seed, Rounds, Top), Req);
        {invalid, Field} ->
            reply(422, {[{<<"error">>, <<"validation failed">>},
                         {<<"field">>, Field}]}, Req)
    end;
route('GET', "/gc/churn", Req) ->
    {_, Query, _} = mochiweb_util:urlsplit_path(mochiweb_request:get(raw_path, Req)),
    case bench_gc:params(mochiweb_util:parse_qs(Query)) of
        {ok, Seed, N} ->
            reply(200, bench_gc:churn(Seed, N), Req);
        {invalid, Field} ->
            reply(422, {[{<<"error">>, <<"validation failed">>},
                         {<<"field">>, Field}]}, Req)
    end;
route('GET', "/gc/stats", Req) ->
    reply(200, bench_gc:stats(), Req);
route('POST', "/gc/reset", Req) ->
    ok = bench_gc:reset(),
    mochiweb_request:respond({204, [], <<>>}, Req);
route('GET', "/health", Req) ->
    reply(200, {[{<<"status">>, <<"ok">>}]}, Req);
route(_, _, Req) ->
    not_found(Req).

not_found(Req) ->
    reply(404, {[{<<"error">>, <<"not found">>}]}, Req).

reply(Status, Term, Req) ->
    mochiweb_request:respond({Status, ?JSON, jiffy:encode(Term)}, Req).

decode(Body) ->
    try jiffy:decode(Body, [return_maps, dedupe_keys]) of
        Term -> {ok, Term}
    catch
        _:_ -> error
    end.

%% GC_LIVE_OBJECTS: unset or empty is 0; anything but ASCII digits stops the
%% node with one line on stderr, as a listen failure does.
live_objects(false) ->
    0;
live_objects("") ->
    0;
live_objects(S) ->
    case parse_id(S) of
        N when is_integer(N) ->
            N;
        error ->
            io:format(standard_error, "GC_LIVE_OBJECTS=~p: want a whole number~n", [S]),
            erlang:halt(1)
    end.

%% A decimal integer made of ASCII digits only (no sign); anything else is
%% an unknown user.
parse_id([]) ->
    error;
parse_id(S) ->
    case lists:all(fun(C) -> C >= $0 andalso C =< $9 end, S) of
        true -> list_to_integer(S);
        false -> error
    end.
