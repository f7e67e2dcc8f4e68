package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicesql/sluice/server"
)

// browser returns a context driving a fresh headless Chromium. Without
// Chromium the test is skipped, except in CI (SLUICE_CI set), where it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("SLUICE_CI") != "" {
			t.Fatal("chromium is not installed (apt-get install -y chromium); CI must run the browser test")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium): the browser test cannot run")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// counter reads a number the page shows with thousands separators.
func counter(t *testing.T, ctx context.Context, sel string) int64 {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(text, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", sel, text, err)
	}
	return n
}

// The page deploys an application, shows a SQL error at its line, shows
// the counters rising and the job's detail, and stops the application.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	s := server.New(server.Config{StateDir: t.TempDir()})
	ts := httptest.NewServer(s.Handler())
	defer s.Shutdown()
	defer ts.Close()

	// a SQL error is shown at its line
	bad := "SELECT trader_id\nFROM g WHERE\nWITH ('g.type'='generator','g.generator'='trades');"
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#deploy-button")),
		chromedp.SetValue(chromedp.CSS("#app-name"), "web"),
		chromedp.SetValue(chromedp.CSS("#sql"), bad),
		chromedp.Click(chromedp.CSS("#deploy-button")),
		chromedp.WaitVisible(chromedp.CSS(".sql-error")),
	)
	if err != nil {
		t.Fatal(err)
	}
	errLine, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(".sql-error"), "data-line"))
	if err != nil {
		t.Fatal(err)
	}
	gutterBad, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#gutter .bad")))
	if err != nil {
		t.Fatal(err)
	}
	if errLine.Value != "3" || gutterBad != "3" {
		t.Fatalf("the error is shown at line %q (gutter %q), want 3", errLine.Value, gutterBad)
	}

	// a good application deploys and its counters rise
	good := "CREATE STREAM big AS SELECT trader_id, quantity FROM g WHERE quantity >= 500\n" +
		"WITH ('g.type'='generator','g.generator'='trades','g.count'='unbounded','g.rate'='2000');\n" +
		"CREATE STREAM counts AS SELECT trader_id, COUNT(*) AS n FROM big GROUP BY trader_id EMIT CHANGES;"
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#sql"), good),
		chromedp.Click(chromedp.CSS("#deploy-button")),
		chromedp.WaitVisible(chromedp.CSS(`.app[data-app="web"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	in := `tr[data-job="big"] .counter-in`
	first := counter(t, ctx, in)
	deadline := time.Now().Add(30 * time.Second)
	for counter(t, ctx, in) <= first {
		if time.Now().After(deadline) {
			t.Fatalf("the in counter of job big stays at %d", first)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// the job's detail: counters, partitions, EXPLAIN
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr[data-job="counts"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail td[data-counter="in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#partitions .bar`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	explain, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#explain")))
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#partitions .bar").length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(explain, "GROUP BY trader_id") || bars == 0 {
		t.Fatalf("detail: %d partition bars, EXPLAIN %q", bars, explain)
	}

	// stop: the application is drained and removed
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.app[data-app="web"] .stop-app`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.app[data-app="web"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if code := call(t, ts, "", "GET", "/v1/apps/web", "", nil); code != http.StatusNotFound {
		t.Fatalf("after stop: GET /v1/apps/web is HTTP %d, want 404", code)
	}
}
