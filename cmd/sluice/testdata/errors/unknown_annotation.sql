-- @num_partition: 4
SELECT a FROM t WITH ('t.type'='file_source', 't.path'='t.jsonl');
