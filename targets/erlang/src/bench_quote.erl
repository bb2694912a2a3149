%% POST /orders/quote of targets/README.md: validate a decoded order in the
%% contract's order and price it. Nothing is stored.
-module(bench_quote).

-export([quote/1]).

-define(MAX_INT32, 2147483647).
-define(MAX_ITEMS, 100).
-define(MAX_SKU, 64).
-define(MAX_QTY, 1000).
-define(MAX_PRICE, 10000000).

%% Body is the order decoded by jiffy with return_maps. Answers
%% {ok, EJSON} or {invalid, FieldName}.
quote(Order) when is_map(Order) ->
    case int_in(maps:get(<<"customer_id">>, Order, undefined), 1, ?MAX_INT32) of
        error ->
            {invalid, <<"customer_id">>};
        CustomerId ->
            case maps:get(<<"items">>, Order, undefined) of
                Items when is_list(Items), Items =/= [], length(Items) =< ?MAX_ITEMS ->
                    lines(Items, 0, CustomerId, [], 0, 0);
                _ ->
                    {invalid, <<"items">>}
            end
    end;
quote(_) ->
    {invalid, <<"body">>}.

lines([], _I, CustomerId, Lines, Count, Subtotal) ->
    Tax = (Subtotal * 825 + 5000) div 10000,
    {ok, {[{<<"customer_id">>, CustomerId},
           {<<"currency">>, <<"USD">>},
           {<<"lines">>, lists:reverse(Lines)},
           {<<"item_count">>, Count},
           {<<"subtotal_cents">>, Subtotal},
           {<<"tax_cents">>, Tax},
           {<<"total_cents">>, Subtotal + Tax}]}};
lines([Item | Rest], I, CustomerId, Lines, Count, Subtotal) when is_map(Item) ->
    case maps:get(<<"sku">>, Item, undefined) of
        Sku when is_binary(Sku), byte_size(Sku) >= 1, byte_size(Sku) =< ?MAX_SKU ->
            case int_in(maps:get(<<"qty">>, Item, undefined), 1, ?MAX_QTY) of
                error ->
                    {invalid, field(I, <<".qty">>)};
                Qty ->
                    case int_in(maps:get(<<"unit_price_cents">>, Item, undefined), 0, ?MAX_PRICE) of
                        error ->
                            {invalid, field(I, <<".unit_price_cents">>)};
                        Price ->
                            Total = Qty * Price,
                            Line = {[{<<"sku">>, Sku}, {<<"qty">>, Qty},
                                     {<<"line_total_cents">>, Total}]},
                            lines(Rest, I + 1, CustomerId, [Line | Lines], Count + Qty,
                                  Subtotal + Total)
                    end
            end;
        _ ->
            {invalid, field(I, <<".sku">>)}
    end;
lines(_, I, _, _, _, _) ->
    {invalid, field(I, <<>>)}.

field(I, Suffix) ->
    <<"items[", (integer_to_binary(I))/binary, "]", Suffix/binary>>.

%% A JSON number with no fractional part within Lo..Hi, as an integer; jiffy
%% decodes 2.0 as a float, which counts as the integer 2.
int_in(N, Lo, Hi) when is_integer(N), N >= Lo, N =< Hi ->
    N;
int_in(F, Lo, Hi) when is_float(F), F >= Lo, F =< Hi ->
    case trunc(F) of
        N when N == F -> N;
        _ -> error
    end;
int_in(_, _, _) ->
    error.
