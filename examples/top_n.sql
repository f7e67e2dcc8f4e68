-- Top-N: the two largest trades (price * quantity) of each symbol, as
-- Flink writes it: a rank in a subquery, filtered by WHERE rn <= 2
-- (QUALIFY rn <= 2 says the same without the subquery). Sluice keeps two
-- rows per symbol, hashes on symbol, and emits them at the end of the file.
--   go run ./cmd/sluice run examples/top_n.sql
SELECT * FROM (
  SELECT symbol, trader_id, price * quantity AS notional,
         ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price * quantity DESC) AS rn
  FROM trades)
WHERE rn <= 2
EMIT FINAL
WITH ('trades.type' = 'file_source',
      'trades.path' = 'examples/data/trades.jsonl');
