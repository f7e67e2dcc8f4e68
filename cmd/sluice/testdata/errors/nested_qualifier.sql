SELECT id, usr.uid FROM events WITH ('events.type'='file_source', 'events.path'='nested.jsonl');
