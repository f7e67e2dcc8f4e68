SELECT s, ROW_NUMBER() OVER (PARTITION BY s ORDER BY a DESC) AS rn
FROM t
QUALIFY rn <= 'a'
WITH ('t.type'='file_source', 't.path'='t.jsonl');
