SELECT a FROM trades
WITH ('trades.type'='file_source', 'trade.path'='t.jsonl');
