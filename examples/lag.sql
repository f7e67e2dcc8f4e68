-- Row window: each trade with the previous price of the same symbol.
-- PARTITION BY symbol keeps each symbol's trades in one partition; ORDER BY
-- trade_time (the event time) runs them in event-time order.
--   go run ./cmd/sluice run examples/lag.sql
SELECT symbol,
       trade_time,
       price,
       LAG(price) OVER (PARTITION BY symbol ORDER BY trade_time) AS prev_price
FROM trades
WITH ('trades.type' = 'file_source',
      'trades.path' = 'examples/data/trades.jsonl');
