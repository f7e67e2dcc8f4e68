package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/connector/file"
	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/record"
)

// dataset is one scenario's data on disk and, once loaded, in memory.
type dataset struct {
	// files are the source partitions' files, in partition order.
	files []string
	// glob matches exactly the files.
	glob string
	// bytes is the files' total size.
	bytes int64
	// records is the number of records.
	records int
}

// writeData writes n records of s into sourceParts files under dir, unless
// files of the same dataset and count are there already.
func writeData(dir string, s *Scenario, n int) (*dataset, error) {
	ext := "jsonl"
	if s.Text {
		ext = "txt"
	}
	stem := fmt.Sprintf("%s-%d", s.Dataset, n)
	d := &dataset{glob: filepath.Join(dir, stem+"-p*."+ext), records: n}
	for p := 0; p < sourceParts; p++ {
		d.files = append(d.files, filepath.Join(dir, fmt.Sprintf("%s-p%d.%s", stem, p, ext)))
	}
	if d.complete() {
		return d, nil
	}
	var err error
	if s.Text {
		err = writeBRC(d.files, n)
	} else {
		err = writeJSONL(d.files, s, n)
	}
	if err != nil {
		for _, f := range d.files {
			os.Remove(f)
		}
		return nil, fmt.Errorf("writing %s data: %w", s.Dataset, err)
	}
	if !d.complete() {
		return nil, fmt.Errorf("writing %s data: files missing after writing", s.Dataset)
	}
	return d, nil
}

// complete reports whether all files exist, and sums their sizes.
func (d *dataset) complete() bool {
	d.bytes = 0
	for _, f := range d.files {
		st, err := os.Stat(f)
		if err != nil {
			return false
		}
		d.bytes += st.Size()
	}
	return true
}

// partWriter is one partition's output file. Files are written under a
// temporary name and renamed when complete.
type partWriter struct {
	f    *os.File
	w    *bufio.Writer
	path string
}

func createParts(paths []string) ([]*partWriter, error) {
	var out []*partWriter
	for _, p := range paths {
		f, err := os.Create(p + ".tmp")
		if err != nil {
			for _, o := range out {
				o.f.Close()
			}
			return nil, err
		}
		out = append(out, &partWriter{f: f, w: bufio.NewWriterSize(f, 1<<20), path: p})
	}
	return out, nil
}

func closeParts(parts []*partWriter, failed error) error {
	err := failed
	for _, p := range parts {
		if err == nil {
			err = p.w.Flush()
		}
		if cerr := p.f.Close(); err == nil {
			err = cerr
		}
	}
	for _, p := range parts {
		if err == nil {
			err = os.Rename(p.path+".tmp", p.path)
		} else {
			os.Remove(p.path + ".tmp")
		}
	}
	return err
}

// inOrder calls fn with the records of parts, which holds s's records 0..n-1
// split into source partitions by s.part, in generation order.
func inOrder(s *Scenario, parts [][]record.Record, fn func(r *record.Record)) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	next := make([]int, len(parts))
	row := make([]record.Value, len(s.Columns))
	for i := 0; i < n; i++ {
		s.row(i, row)
		p := s.part(i, row)
		fn(&parts[p][next[p]])
		next[p]++
	}
}

// writeJSONL writes records 0..n-1 of s as JSON lines, each to the file of
// its source partition.
func writeJSONL(paths []string, s *Scenario, n int) (err error) {
	parts, err := createParts(paths)
	if err != nil {
		return err
	}
	defer func() { err = closeParts(parts, err) }()
	enc := codec.NewJSONEncoder(record.NewSchema(s.Columns...))
	row := make([]record.Value, len(s.Columns))
	var buf []byte
	for i := 0; i < n; i++ {
		s.row(i, row)
		buf = append(enc.AppendRow(buf[:0], row), '\n')
		if _, err := parts[s.part(i, row)].w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// writeBRC writes n rows of the measurements generator (413 stations) in
// the 1BRC format, generator partition p to file p.
func writeBRC(paths []string, n int) (err error) {
	src, err := gen.New("measurements", gen.Options{Generator: "measurements", Count: int64(n), Partitions: len(paths)})
	if err != nil {
		return err
	}
	parts, err := createParts(paths)
	if err != nil {
		return err
	}
	defer func() { err = closeParts(parts, err) }()
	schema := record.NewSchema("station", "temperature")
	readers, err := src.Open(context.Background(), schema, discardDLQ{})
	if err != nil {
		return err
	}
	enc, err := codec.NewCSVEncoder(';')
	if err != nil {
		return err
	}
	var b record.Batch
	var buf []byte
	for rd := range readers {
		w := parts[rd.Partition()].w
		for {
			err := rd.Next(context.Background(), &b, 4096)
			buf = buf[:0]
			for i := range b.Records {
				buf = append(enc.AppendRow(buf, b.Records[i].Values), '\n')
			}
			if _, werr := w.Write(buf); werr != nil {
				return werr
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// fileProps returns the WITH properties of a file source over d.
func fileProps(s *Scenario, d *dataset) map[string]string {
	n := s.Source
	p := map[string]string{n + ".type": "file_source", n + ".path": d.glob}
	if s.Text {
		p[n+".format"] = "csv"
		p[n+".delimiter"] = ";"
		p[n+".has_header"] = "false"
		p[n+".columns"] = "station,temperature"
	} else {
		p[n+".format"] = "jsonl"
	}
	return p
}

// loadRecords decodes d with the file source for schema, one record slice
// per source partition, with their values in one arena per partition and no
// original bytes kept.
func loadRecords(s *Scenario, d *dataset, schema *record.Schema) ([][]record.Record, error) {
	src, err := file.NewSource(s.Source, fileProps(s, d))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dlq := &countDLQ{}
	readers, err := src.Open(context.Background(), schema, dlq)
	if err != nil {
		return nil, err
	}
	var out [][]record.Record
	width := schema.Len()
	for rd := range readers {
		p := int(rd.Partition())
		for len(out) <= p {
			out = append(out, nil)
		}
		var recs []record.Record
		var b record.Batch
		for {
			err := rd.Next(context.Background(), &b, 4096)
			vals := make([]record.Value, 0, len(b.Records)*width)
			for _, r := range b.Records {
				vals = append(vals, r.Values...)
				r.Values = vals[len(vals)-len(r.Values) : len(vals) : len(vals)]
				r.Raw, r.Key, r.Headers = nil, nil, nil
				recs = append(recs, r)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
		}
		rd.Close()
		out[p] = recs
	}
	if dlq.n > 0 {
		return nil, fmt.Errorf("decoding %s: %d records dead-lettered", d.glob, dlq.n)
	}
	return out, nil
}

// discardDLQ drops dead letters (the generator never produces any).
type discardDLQ struct{}

func (discardDLQ) Add(connector.DeadLetter) {}

// countDLQ counts dead letters; it is used by one goroutine at a time.
type countDLQ struct{ n int64 }

func (c *countDLQ) Add(connector.DeadLetter) { c.n++ }

// sizeString formats a byte count.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 2, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
