-- Quickstart: trading volume per trader per minute, from the built-in
-- generator (no Kafka, no files to download). The planner sees GROUP BY
-- trader_id and hashes on it; `sluice explain` says why.
CREATE STREAM trader_minutes AS
SELECT trader_id,
       COUNT(*) AS trades,
       SUM(quantity) AS volume,
       SUM(price * quantity) AS notional,
       _WINDOW_START AS window_start
FROM trades
GROUP BY trader_id
WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)
EMIT FINAL
WITH ('trades.type' = 'generator',
      'trades.generator' = 'trades',
      'trades.count' = '200000',
      'trades.seed' = '42',
      'trader_minutes.type' = 'file_sink',
      'trader_minutes.path' = 'out/trader_minutes.jsonl');
