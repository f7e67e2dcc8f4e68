-- The dialect examples of reference-notes.md section 3 (the elided WITH
-- entries of the second one completed).
-- @partitioning_strategy: hash
-- @num_partitions: 6
CREATE STREAM results AS
SELECT station, MIN(temperature) AS min_temp, AVG(temperature) AS avg_temp, MAX(temperature) AS max_temp
FROM measurements GROUP BY station EMIT FINAL
WITH ('measurements.type'='file_source', 'measurements.path'='./measurements.txt',
      'measurements.format'='csv', 'results.type'='file_sink', 'results.path'='./out.csv');

CREATE TABLE tumbling_output AS
SELECT symbol PRIMARY KEY, COUNT(*) AS trade_count, AVG(price) AS avg_price, _window_start AS window_start
FROM market_data GROUP BY symbol WINDOW TUMBLING(1m) EMIT CHANGES
WITH ('market_data.type'='kafka_source', 'market_data.topic.name'='market_data',
      'market_data.bootstrap.servers'='localhost:9092', 'market_data.group.id'='sluice',
      'market_data.auto.offset.reset'='earliest', 'event.time.field'='trade_time',
      'watermark.max_out_of_orderness'='5s', 'late.data.strategy'='dead_letter');

SELECT symbol, price,
       AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY timestamp) AS moving_avg
FROM market_data;
