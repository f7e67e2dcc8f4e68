SELECT s, COUNT(*) AS n
FROM t
GROUP BY 3
WITH ('t.type'='file_source', 't.path'='t.jsonl');
