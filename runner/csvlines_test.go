package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCSVMultilineRecordsAtEveryPartitionCount reads a CSV file whose
// quoted fields hold line breaks, cut into splits of a few bytes, at 1, 2
// and 4 partitions: every run gives the same rows and dead letters, each
// field whole.
func TestCSVMultilineRecordsAtEveryPartitionCount(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("id,s\n")
	for i := 0; i < 200; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&sb, "%d,\"line\n%d,\"\"x\"\"\"\n", i, i)
		case 1:
			fmt.Fprintf(&sb, "%d,\"crlf\r\n\r\nend\"\r\n", i)
		case 2:
			fmt.Fprintf(&sb, "%d,plain\n", i)
		default:
			fmt.Fprintf(&sb, "%d,\"a,b\"x\n", i) // text after a closing quote: a dead letter
		}
	}
	path := filepath.Join(t.TempDir(), "ml.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	props := fmt.Sprintf(`'t.type' = 'file_source', 't.path' = '%s', 't.columns' = 'id INT, s STRING', 't.split.size' = '37B'`, path)
	query := "SELECT id, s FROM t"
	want := runBounded(t, props, query, 16, 1, false, false)
	if len(want.out) != 150 || len(want.dlq) != 50 || !slices.Contains(want.out, `{"id":4,"s":"line\n4,\"x\""}`) {
		t.Fatalf("%d rows, %d dead letters; want 150 and 50, the first row whole:\n%s", len(want.out), len(want.dlq), strings.Join(want.out[:min(4, len(want.out))], "\n"))
	}
	for _, parts := range []int{2, 4} {
		got := runBounded(t, props, query, 16, parts, false, false)
		if !slices.Equal(got.out, want.out) || !slices.Equal(got.dlq, want.dlq) {
			t.Errorf("partitions %d: output or dead letters differ\n%s\n%s", parts, firstDiff(got.out, want.out), firstDiff(got.dlq, want.dlq))
		}
	}
}
