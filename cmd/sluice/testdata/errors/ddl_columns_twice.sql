CREATE STREAM events (a BIGINT, s STRING)
WITH ('type'='file_source', 'path'='t.jsonl', 'columns'='a BIGINT');

SELECT a FROM events;
