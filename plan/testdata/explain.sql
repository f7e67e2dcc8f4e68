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
WITH ('market_data.type'='kafka_source', 'market_data.topic.name'='market_data', 'market_data.partition.key'='symbol');

SELECT symbol, price,
       AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY timestamp) AS moving_avg
FROM market_data;

SELECT COUNT(*) AS n FROM orders WITH ('orders.type'='file_source');

SELECT order_id, customer_id, order_date, total_amount FROM orders WHERE total_amount > 100;

INSERT INTO big_spenders SELECT o.customer_id, c.name, SUM(o.total_amount) AS total
FROM orders o JOIN customers c ON o.customer_id = c.id
GROUP BY o.customer_id, c.name
WITH ('orders.type'='kafka_source', 'customers.type'='kafka_source');

-- @partitioning_strategy: sticky
SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price
FROM market_data GROUP BY trader_id, symbol WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)
WITH ('market_data.type'='kafka_source', 'market_data.partition.key'='trader_id');

SELECT DISTINCT UPPER(symbol) AS sym FROM trades ORDER BY sym LIMIT 20;

SELECT * FROM (
  SELECT symbol, price, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn FROM trades
) WHERE rn <= 3;

-- A GROUP BY on a key the topic is not partitioned by, read in a consumer
-- group: two stages joined by a repartition topic.
SELECT symbol, COUNT(*) AS n
FROM trades
GROUP BY symbol
WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)
EMIT FINAL
WITH ('trades.type'='kafka_source', 'trades.group.id'='shared', 'trades.partition.key'='trader_id', 'repartition.partitions'='16');

-- An outer stream-stream join counted per customer, read in a consumer
-- group: three stages, its joined rows (those with NULLs too) crossing an
-- exchange topic keyed by the customer.
SELECT o.customer, COUNT(*) AS n, COUNT(p.pay_id) AS paid
FROM orders o LEFT JOIN payments p ON o.order_id = p.order_id WITHIN INTERVAL '1' MINUTE
GROUP BY o.customer
WINDOW TUMBLING(INTERVAL '1' MINUTE)
EMIT FINAL
WITH ('orders.type'='kafka_source', 'orders.group.id'='shared', 'payments.type'='kafka_source');
