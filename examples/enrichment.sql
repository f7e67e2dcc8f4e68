-- Enrichment: each trade joined with its trader from a table keyed by
-- trader_id. The table is read whole before the first trade is joined and
-- the latest row per key wins (T1 moved to derivatives); T3 has no row, so
-- LEFT JOIN gives NULLs. The small table is broadcast: the trades keep the
-- cheapest routing (round_robin).
--   go run ./cmd/sluice run examples/enrichment.sql
--   go run ./cmd/sluice explain examples/enrichment.sql
SELECT t.trade_time, t.symbol, t.quantity, t.price * t.quantity AS notional,
       t.trader_id, r.name, r.desk
FROM trades t
LEFT JOIN traders r ON t.trader_id = r.trader_id
WITH ('trades.type' = 'file_source',
      'trades.path' = 'examples/data/trades.jsonl',
      'traders.type' = 'file_source',
      'traders.path' = 'examples/data/traders.jsonl',
      'traders.primary.key' = 'trader_id');
