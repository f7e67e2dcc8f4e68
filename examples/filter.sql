-- Filter and project: the large trades, with their notional value.
-- Stateless, so the planner spreads whole batches over the partitions.
--   go run ./cmd/sluice run examples/filter.sql
SELECT trader_id, symbol, price, quantity, price * quantity AS notional
FROM trades
WHERE quantity >= 500
WITH ('trades.type' = 'file_source',
      'trades.path' = 'examples/data/trades.jsonl');
