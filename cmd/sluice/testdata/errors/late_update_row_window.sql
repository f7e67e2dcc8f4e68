SELECT s, LAG(a) OVER (PARTITION BY s ORDER BY _EVENT_TIME) AS prev
FROM t
WITH ('t.type'='file_source', 't.path'='t.jsonl',
      'late.data.strategy'='update');
