-- Tumbling window: trades and volume per trader per minute of trade_time.
-- Each window is emitted once, when the watermark passes its end.
--   go run ./cmd/sluice run examples/tumbling_window.sql
SELECT trader_id,
       _WINDOW_START AS window_start,
       COUNT(*) AS trades,
       SUM(quantity) AS volume
FROM trades
GROUP BY trader_id
WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)
EMIT FINAL
WITH ('trades.type' = 'file_source',
      'trades.path' = 'examples/data/trades.jsonl');
