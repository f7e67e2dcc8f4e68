-- An application with a table: CREATE TABLE ... GROUP BY trader_id writes a
-- changelog keyed by trader_id (the latest row per trader), and the JOIN in
-- the last statement reads it as a table keyed by trader_id, with no
-- '<n>.primary.key'. The generator ends, so the join waits until the table
-- is whole and then joins every trade with its trader's final totals; the
-- trades it reads meanwhile wait in memory.
--   go run ./cmd/sluice run examples/table_app.sql
--   go run ./cmd/sluice explain examples/table_app.sql
CREATE STREAM trades AS
SELECT trader_id, symbol, quantity, trade_time
FROM g
WITH ('g.type' = 'generator', 'g.generator' = 'trades', 'g.count' = '20000',
      'g.partitions' = '2');

CREATE TABLE per_trader AS
SELECT trader_id, COUNT(*) AS trades, SUM(quantity) AS volume
FROM trades
GROUP BY trader_id;

SELECT t.trader_id, t.symbol, t.quantity, p.trades, p.volume,
       CAST(t.quantity AS DOUBLE) / p.volume AS share
FROM trades t
JOIN per_trader p ON t.trader_id = p.trader_id
WHERE t.quantity >= 990;
