// Package file reads JSON-lines and CSV files as a Sluice source and writes
// result rows to a file as a sink.
//
// # Source
//
// A source's options are WITH properties prefixed by its name n:
//
//	'n.path'        a file or a glob (required)
//	'n.format'      json (JSON lines; also jsonl, ndjson) or csv; by default
//	                from the extension (.json .jsonl .ndjson, .csv, .tsv)
//	'n.delimiter'   the CSV field delimiter, one character or "tab"
//	                (default ',' and tab for .tsv)
//	'n.has_header'  whether each CSV file starts with a header row; when
//	                not set, each file's first line is a header only when
//	                it reads as one: with declared columns, when it names
//	                them or is names where the lines after it are data (see
//	                isHeader); without, unless it holds a number or a time
//	                (the columns are then column0, column1, ...)
//	'n.columns'     the declared columns, with or without types
//	                ('id BIGINT, name STRING' or 'id,name'); for CSV their
//	                names name the fields, and they are required when
//	                has_header is false
//	'n.primary.key' the columns of a table's key (read by the runner)
//	'n.infer.records' how many records SourceSchema infers the schema
//	                from (read by the runner; default 1000)
//	'n.split.size'  the size of a split in bytes, e.g. 64MiB (the default)
//	'n.max.field.bytes' CSV: the most a quoted field holding line breaks
//	                may run before its record is cut at its first line
//	                break (default 16MiB; see codec.CSVRecordEndMax)
//	'n.invalid.utf8' error (the default: a line with a string field that is
//	                not UTF-8 goes to the dead-letter queue) or replace
//	                (each bad byte reads as U+FFFD)
//
// The source never reads the files its job writes (its file sink, its
// dead-letter file, a sink's temporary files), even when its glob matches
// them; see NewSource.
//
// A JSON record is one line. A CSV record is RFC 4180's: a quoted field may
// hold line breaks and doubled quotes, so a record may span lines (see
// codec.CSVRecordEndMax for where one ends).
//
// Every file is cut into splits of about split.size bytes, aligned to
// record boundaries: a split other than a file's first starts at the first
// record that begins at or after its start offset, and every split reads
// through the record that crosses its end, so each record is read exactly
// once. For a CSV file of several splits, one sequential pass over the
// file, shared by its splits' readers, finds where each split's first
// record begins; a run of lines with no quote is skipped at the speed of a
// byte search. Each split is one source partition, numbered in the order
// of the sorted file names; the job reads them in parallel, each with its
// own decoder.
//
// Decoded values are converted to the types of the schema given to Open
// (record.Conformer); a line whose value does not fit goes to the
// dead-letter queue with the reason. SourceSchema infers a schema from the
// head of each file when none is declared.
//
// A record's offset is the byte offset of its (first) line within its file, its
// topic is the file's path and its timestamp is the file's modification time
// (so results do not depend on when the file was read). Blank lines are
// skipped. A record that does not decode goes to the dead-letter queue with
// its bytes (all its lines), partition, byte offset and a reason that names
// the file and the number of its first line. A CSV quoted field that never
// closes runs to the end of the file: that rest of the file is one
// undecodable record. Commit does nothing: a file is read whole on every run.
//
// # Sink
//
// A sink writes JSON lines or CSV to 'n.path' (options 'n.format',
// 'n.delimiter', 'n.has_header' as above). It writes to a temporary file in
// the same directory and renames it to the path on Close; Abort removes it,
// so a failed run never leaves a file that looks complete.
package file
