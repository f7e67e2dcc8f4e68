CREATE STREAM trades (a BIGINT, s STRING)
WITH ('type'='file_source', 'path'='t.jsonl', 'fromat'='json');

SELECT a FROM trades;
