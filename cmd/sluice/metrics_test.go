package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuilder is a strings.Builder safe for concurrent writes.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMetricsEndpointDuringRun(t *testing.T) {
	t.Chdir(t.TempDir())
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuilder
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"run", "--metrics-addr", addr, "--partitions", "2", "-e",
			"SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id EMIT CHANGES " +
				"WITH ('trades.type'='generator','trades.generator'='trades','trades.count'='unbounded','trades.rate'='20000')"},
			&stdout, &stderr)
	}()
	want := []string{
		`sluice_job_info{job="trades",partitions="2",strategy="always_hash"} 1`,
		`sluice_records_in_total{job="trades"}`,
		`sluice_partition_records_in_total{job="trades",partition="1"}`,
		`sluice_partition_queue_depth{job="trades",partition="0"}`,
		`sluice_partition_busy_ratio{job="trades",partition="1"}`,
		`sluice_watermark_lag_seconds{job="trades"}`,
		`go_goroutines`,
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		body = scrape(addr)
		if containsAll(body, want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !containsAll(body, want) {
		t.Fatalf("metrics never had all of %q; last scrape:\n%s\nstderr: %s", want, body, stderr.String())
	}
	if strings.Contains(body, `sluice_records_in_total{job="trades"} 0`+"\n") {
		t.Errorf("no records counted:\n%s", body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "job trades interrupted") {
		t.Errorf("summary missing:\n%s", stderr.String())
	}
}

// scrape returns the body of http://addr/metrics, or "" on failure.
func scrape(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func containsAll(s string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
