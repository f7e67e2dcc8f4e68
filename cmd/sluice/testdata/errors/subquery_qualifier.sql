CREATE STREAM trades (symbol STRING, price DECIMAL(10,2)) WITH ('type'='file_source', 'path'='t.jsonl');
SELECT sub.symbol FROM (SELECT symbol FROM trades) AS subq;
