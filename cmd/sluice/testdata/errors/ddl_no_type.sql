-- A declaration that forgets its source type.
CREATE STREAM trades (symbol STRING, price DOUBLE, trade_time TIMESTAMP)
WITH ('path' = 'trades.jsonl');

SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol;
