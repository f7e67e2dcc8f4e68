-- GROUP BY over a bounded file: one row per symbol when the input ends.
--   go run ./cmd/sluice run examples/group_by.sql
SELECT symbol,
       COUNT(*) AS trades,
       SUM(quantity) AS volume,
       MIN(price) AS low,
       MAX(price) AS high
FROM trades
GROUP BY symbol
EMIT FINAL
WITH ('trades.type' = 'file_source',
      'trades.path' = 'examples/data/trades.jsonl');
