// Package codec decodes outside text (JSON objects, CSV lines) into the slots
// of a record.Schema and encodes result rows as JSON or CSV.
//
// Decoders type untyped numbers by Sluice's rule (record.ParseNumber): a
// whole number is an INTEGER, a number with a fraction and no exponent is an
// exact DECIMAL keeping its written scale, and a number with an exponent is a
// FLOAT. They are built for the ingest hot path: they scan the input bytes in
// place, allocate nothing per record for numbers, booleans and repeated short
// strings, and never panic on any input. A decoder is not safe for concurrent
// use; make one per reader.
package codec
