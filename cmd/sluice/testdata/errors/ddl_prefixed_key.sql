CREATE STREAM trades (a BIGINT, s STRING)
WITH ('type'='file_source', 'trades.path'='t.jsonl');

SELECT a FROM trades;
