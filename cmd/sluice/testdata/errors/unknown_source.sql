CREATE STREAM trades (a BIGINT, s STRING) WITH ('type'='file_source', 'path'='t.jsonl');
SELECT a FROM trade;
