package runner

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
)

// TestStreamJoinDeadLettersNameTheirSource: in one process, the joined
// rows of a FULL stream-stream join that fail in the query after it (a
// division by zero in SUM, after an exchange to the workers of the GROUP
// BY's key) are dead-lettered at the record that made each row: a pair at
// the record whose arrival made it, an order or a payment, a row with
// NULLs at its own record (written as the watermark passes, or at the
// end). Every letter names that record's stream, its partition and offset
// there, and carries its bytes, at 1 and 4 workers.
func TestStreamJoinDeadLettersNameTheirSource(t *testing.T) {
	dir := t.TempDir()
	var orders, payments strings.Builder
	fails := 0 // the joined rows that fail: one per order or unknown order's payment
	for i := range 600 {
		ts := 1_700_000_000_000 + int64(i)*40
		amount := i % 113
		fmt.Fprintf(&orders, `{"order_id":%d,"customer":"c%d","amount":%d,"ts":%d}`+"\n", i, i%7, amount, ts)
		if amount%13 == 0 {
			fails++
		}
		switch i % 4 {
		case 0: // never paid: a row with NULLs
		case 1: // paid before the order
			fmt.Fprintf(&payments, `{"pay_id":%d,"order_id":%d,"paid":1,"ts":%d}`+"\n", 5000+i, i, ts-300)
		case 2: // paid after it
			fmt.Fprintf(&payments, `{"pay_id":%d,"order_id":%d,"paid":1,"ts":%d}`+"\n", 5000+i, i, ts+300)
		case 3: // a payment of an unknown order beside the order's own: a row with NULLs
			fmt.Fprintf(&payments, `{"pay_id":%d,"order_id":%d,"paid":1,"ts":%d}`+"\n", 5000+i, i, ts+100)
			fmt.Fprintf(&payments, `{"pay_id":%d,"order_id":%d,"paid":%d,"ts":%d}`+"\n", 9000+i, 10000+i, i%39, ts+200)
			if i%39%13 == 0 {
				fails++
			}
		}
	}
	paths := map[string]string{"orders": writeFile(t, dir, "orders.jsonl", orders.String()),
		"payments": writeFile(t, dir, "payments.jsonl", payments.String())}
	files := map[string]string{"orders": orders.String(), "payments": payments.String()}
	source := func(name string) string {
		return fmt.Sprintf(`'%s.type'='file_source', '%s.path'='%s', '%s.split.size'='2KB', `, name, name, paths[name], name)
	}
	const times = `'event.time.field'='ts', 'watermark.max_out_of_orderness'='1s'`
	// each record's partition, by stream and offset
	partOf := map[string]map[int64]float64{}
	for name := range paths {
		rows, _, err := runJoin(t, `SELECT _partition AS p, _offset AS o FROM `+name+` WITH (`+source(name)+times+`)`)
		if err != nil {
			t.Fatal(err)
		}
		partOf[name] = map[int64]float64{}
		for _, r := range rows {
			partOf[name][int64(r["o"].(float64))] = r["p"].(float64)
		}
		if len(rows) < 100 || len(slices.Compact(slices.Sorted(maps.Values(partOf[name])))) < 3 {
			t.Fatalf("%s: %d records, want them over several partitions", name, len(rows))
		}
	}
	for _, n := range []int{1, 4} {
		q := `SELECT o.customer, COUNT(*) AS n, SUM(100 / (COALESCE(o.amount, p.paid) % 13)) AS x
FROM orders o FULL JOIN payments p ON o.order_id = p.order_id WITHIN INTERVAL '1' SECOND
GROUP BY o.customer EMIT FINAL WITH (` + source("orders") + source("payments") + times +
			`, 'dlq.path'='` + filepath.Join(dir, fmt.Sprintf("dlq%d.jsonl", n)) + `')`
		_, dead, err := runJoinOn(t, q, n)
		if err != nil {
			t.Fatal(err)
		}
		bySource := map[string]int{}
		for _, line := range dead {
			var l connector.DeadLetterJSON
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("dead letter %s: %v", line, err)
			}
			bySource[l.Source]++
			file, ok := files[l.Source]
			if !ok || l.Offset < 0 || l.Offset >= int64(len(file)) {
				t.Errorf("N=%d: dead letter %s: not at a record of orders or payments", n, line)
				continue
			}
			at, _, _ := strings.Cut(file[l.Offset:], "\n")
			if at != l.Raw || float64(l.Partition) != partOf[l.Source][l.Offset] {
				t.Errorf("N=%d: dead letter %s: %s has %s at partition %v offset %d", n, line, l.Source, at, partOf[l.Source][l.Offset], l.Offset)
			}
			if l.Reason != "division by zero" {
				t.Errorf("N=%d: dead letter %s: want a division by zero", n, line)
			}
		}
		if len(dead) != fails || bySource["orders"] == 0 || bySource["payments"] == 0 || len(bySource) != 2 {
			t.Errorf("N=%d: %d dead letters, by source %v: want %d, of orders and of payments", n, len(dead), bySource, fails)
		}
	}
}
