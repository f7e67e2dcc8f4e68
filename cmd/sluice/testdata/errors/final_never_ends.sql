SELECT symbol, COUNT(*) AS n
FROM g
GROUP BY symbol
EMIT FINAL
WITH ('g.type'='generator', 'g.generator'='trades');
