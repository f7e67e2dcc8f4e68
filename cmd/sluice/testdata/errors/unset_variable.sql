SELECT a FROM t WITH ('t.type'='file_source', 't.path'='${SLUICE_GOLDEN_UNSET}');
