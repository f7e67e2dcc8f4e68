CREATE STREAM trades (a BIGINT, s STRING) WITH ('type'='file_source', 'path'='t.jsonl');
CREATE STREAM trades (a BIGINT) WITH ('type'='file_source', 'path'='t.jsonl');
SELECT a FROM trades;
