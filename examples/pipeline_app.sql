-- An application: three statements, three jobs running at once, chained by
-- name. The rows of `trades` and `big_trades` flow in process (no sink type),
-- bounded and back-pressured; the generator's offsets commit only once the
-- last job has flushed what they produced.
--   go run ./cmd/sluice run examples/pipeline_app.sql
--   go run ./cmd/sluice explain examples/pipeline_app.sql     (the graph)
-- Make the first statement endless with --set g.count=unbounded; Ctrl-C then
-- drains the jobs upstream-first. The first two statements keep each source
-- partition in order on one worker (their rows are read in order), so their
-- parallelism is the generator's partition count.
CREATE STREAM trades AS
SELECT trader_id, symbol, price, quantity, trade_time
FROM g
WITH ('g.type' = 'generator', 'g.generator' = 'trades', 'g.count' = '200000',
      'g.partitions' = '2');

CREATE STREAM big_trades AS
SELECT trader_id, quantity, trade_time FROM trades WHERE quantity >= 900;

SELECT trader_id,
       _WINDOW_START AS window_start,
       COUNT(*) AS trades,
       SUM(quantity) AS volume
FROM big_trades
GROUP BY trader_id
WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)
EMIT FINAL;
