SELECT a FROM t WITH ('t.type'='file_sorce', 't.path'='t.jsonl');
