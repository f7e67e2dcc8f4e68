CREATE STREAM trades (a BIGINT, s STRNG) WITH ('type'='file_source', 'path'='t.jsonl');
SELECT a FROM trades;
