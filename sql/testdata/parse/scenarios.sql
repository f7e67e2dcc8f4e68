-- The benchmark scenario queries of reference-notes.md section 4.

-- 0 pass-through
SELECT order_id, customer_id, order_date, total_amount FROM orders WHERE total_amount > 100;

-- 1 ROWS window
SELECT symbol, price, AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY timestamp) AS moving_avg FROM market_data;

-- 2 GROUP BY
SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value FROM market_data GROUP BY trader_id, symbol;

-- 3a tumbling
SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value FROM market_data GROUP BY trader_id, symbol WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE);

-- 3b emit changes
SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value FROM market_data GROUP BY trader_id, symbol WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE) EMIT CHANGES;

-- 1BRC
SELECT station, MIN(temperature), AVG(temperature), MAX(temperature) FROM measurements GROUP BY station;
