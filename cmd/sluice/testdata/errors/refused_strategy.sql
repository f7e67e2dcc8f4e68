-- @partitioning_strategy: round_robin
SELECT s, COUNT(*) AS n FROM t GROUP BY s
WITH ('t.type'='file_source', 't.path'='t.jsonl');
