-- Declare a source once, with its columns and types (the ksqlDB / Flink
-- DDL); the statements after it read it by name, with no 'trades.*' keys.
-- Without the column list the schema is inferred from the data; see
-- `sluice explain examples/schemas.sql` for what Sluice knows of it.
CREATE STREAM trades (
    trader_id  STRING,
    symbol     STRING,
    price      DECIMAL(10,2),
    quantity   INTEGER,
    trade_time TIMESTAMP
) WITH ('type' = 'file_source', 'path' = 'examples/data/trades.jsonl');

SELECT * EXCEPT (trade_time)
FROM trades
WHERE price * quantity > 150000;

SELECT symbol, SUM(quantity) AS volume
FROM trades
GROUP BY 1
EMIT FINAL;
