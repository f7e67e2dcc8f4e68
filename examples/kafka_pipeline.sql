-- Kafka pipeline: trades and volume per trader per minute, from the topic
-- trades (keyed and partitioned by trader_id, as 'trades.partition.key'
-- declares and Sluice checks) to the topic trader_volume, which the sink
-- creates with the source's partition count if it does not exist. Each
-- partition worker reads its own Kafka partitions: smart_repartition, no
-- shuffle.
--   go run ./cmd/sluice gen trades --count 100000 --topic trades --key trader_id
--   KAFKA_BROKERS=localhost:9092 go run ./cmd/sluice run --until-end examples/kafka_pipeline.sql
CREATE STREAM trader_volume AS
SELECT trader_id,
       _WINDOW_START AS window_start,
       COUNT(*) AS trades,
       SUM(quantity) AS volume
FROM trades
GROUP BY trader_id
WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)
EMIT FINAL
WITH ('trades.type' = 'kafka_source',
      'trades.bootstrap.servers' = '${KAFKA_BROKERS:-localhost:9092}',
      'trades.group.id' = 'sluice-examples',
      'trades.partition.key' = 'trader_id',
      'trader_volume.type' = 'kafka_sink',
      'trader_volume.bootstrap.servers' = '${KAFKA_BROKERS:-localhost:9092}');
