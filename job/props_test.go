package job

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
)

func TestApplyProperties(t *testing.T) {
	tests := []struct {
		props   map[string]string
		want    Config
		wantErr bool
		errHas  []string // each must be in the error
	}{
		{props: map[string]string{"watermark.max_out_of_orderness": "5s", "watermark.idle_timeout": "1m",
			"commit.interval": "250ms", "dlq.path": "x.jsonl", "dlq.max_errors": "10"},
			want: Config{MaxOutOfOrder: 5 * time.Second, IdleTimeout: time.Minute, CommitInterval: 250 * time.Millisecond,
				DLQPath: "x.jsonl", MaxErrors: 10, LimitErrors: true}},
		{props: map[string]string{"dlq.max_errors": "0"}, want: Config{LimitErrors: true}},
		{props: map[string]string{"watermark.idle_timeout": "2", "commit.interval": "1d"},
			want: Config{IdleTimeout: 2 * time.Second, CommitInterval: 24 * time.Hour}},
		{props: map[string]string{"watermark.idle_timeout": " "}, want: Config{}},
		{props: map[string]string{"commit.interval": "-1s"}, wantErr: true},
		{props: map[string]string{"watermark.max_out_of_orderness": "soon"}, wantErr: true},
		{props: map[string]string{"dlq.max_errors": "many"}, wantErr: true},
		{props: map[string]string{"dlq.topic": "dead"}, want: Config{}},
		{props: map[string]string{"dlq.path": "x.jsonl", "dlq.topic": "dead"}, wantErr: true,
			errHas: []string{`'dlq.path'`, `'dlq.topic'`}},
	}
	for _, tt := range tests {
		var c Config
		err := c.ApplyProperties(tt.props)
		if (err != nil) != tt.wantErr {
			t.Errorf("%v: err = %v", tt.props, err)
			continue
		}
		for _, w := range tt.errHas {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not name %s", tt.props, err, w)
			}
		}
		if err == nil && (c.MaxOutOfOrder != tt.want.MaxOutOfOrder || c.IdleTimeout != tt.want.IdleTimeout ||
			c.CommitInterval != tt.want.CommitInterval || c.DLQPath != tt.want.DLQPath || c.MaxErrors != tt.want.MaxErrors ||
			c.LimitErrors != tt.want.LimitErrors) {
			t.Errorf("%v: got %+v", tt.props, c)
		}
	}
}

func TestFileDLQConcurrentAndLazy(t *testing.T) {
	path := t.TempDir() + "/q.jsonl"
	q := NewFileDLQ(path)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file created without entries: %v", err)
	}
	q = NewFileDLQ(path)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				q.Add(connector.DeadLetter{Source: "s", Offset: int64(i), Raw: []byte("x"), Reason: "r"})
			}
		}()
	}
	wg.Wait()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Count() != 200 || bytes.Count(data, []byte("\n")) != 200 {
		t.Fatalf("count %d, %d lines", q.Count(), bytes.Count(data, []byte("\n")))
	}
}
