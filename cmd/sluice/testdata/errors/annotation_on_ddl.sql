-- @num_partitions: 4
CREATE STREAM events (a BIGINT, s STRING) WITH ('type'='file_source', 'path'='t.jsonl');

SELECT a FROM events;
