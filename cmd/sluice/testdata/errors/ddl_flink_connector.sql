-- A Flink user names the source with 'connector'.
CREATE STREAM trades (symbol STRING, price DOUBLE, trade_time TIMESTAMP)
WITH ('connector' = 'kafka', 'topic' = 'trades', 'format' = 'json');

SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol;
