SELECT a FROM t WITH ('t.type'='file_source', 't.path'='t.jsonl', 'watermark.idle_timout'='5s');

SELECT s FROM u WITH ('u.type'='file_source', 'u.path'='t.jsonl', 'u.fromat'='json');
