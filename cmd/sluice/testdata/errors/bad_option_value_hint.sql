SELECT symbol FROM g WITH ('g.type'='generator', 'g.generator'='trade', 'g.count'='10');
