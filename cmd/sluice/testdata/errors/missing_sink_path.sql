CREATE STREAM o AS SELECT a FROM t
WITH ('t.type'='file_source', 't.path'='t.jsonl', 'o.type'='file_sink');
