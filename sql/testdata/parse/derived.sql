-- Subqueries in FROM merge into one query; QUALIFY filters after OVER.
SELECT * FROM (
  SELECT symbol, price, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn FROM trades
) WHERE rn <= 3;

SELECT symbol, price, RANK() OVER (PARTITION BY symbol ORDER BY price DESC) AS r
FROM trades QUALIFY r BETWEEN 1 AND 2 EMIT FINAL;

SELECT s.sym, s.n * 2 AS twice
FROM (SELECT symbol AS sym, COUNT(*) AS n FROM trades GROUP BY symbol) AS s
WHERE s.n > 10;

SELECT * FROM (
  SELECT ws, symbol, n, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY n DESC) AS rn
  FROM (SELECT symbol, _WINDOW_START AS ws, COUNT(*) AS n FROM trades GROUP BY symbol WINDOW TUMBLING(trade_time, 1m)))
WHERE rn = 1;

SELECT symbol, LAG(price) OVER (PARTITION BY symbol ORDER BY trade_time) AS prev
FROM trades QUALIFY prev IS NOT NULL;
