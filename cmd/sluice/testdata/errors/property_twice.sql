SELECT a FROM t
WITH ('t.type'='file_source', 't.path'='t.jsonl',
      't.path'='other.jsonl');
