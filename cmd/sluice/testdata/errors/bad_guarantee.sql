SELECT a FROM t
WITH ('t.type'='file_source', 't.path'='t.jsonl',
      'processing.guarantee'='exactly_onc');
