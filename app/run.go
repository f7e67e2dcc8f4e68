package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/connector/pipe"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// Job states.
const (
	Pending     = "pending"     // prepared, waiting for a file its input comes through
	Running     = "running"     // reading
	Stopping    = "stopping"    // draining after a stop
	Done        = "done"        // its input ended
	Interrupted = "interrupted" // stopped before its input ended
	Failed      = "failed"      // ended with an error
)

// Hooks observe a running application; every field is optional.
type Hooks struct {
	// Prepared is called with each job once it is ready to run.
	Prepared func(j *runner.Job)
	// Progress is called with a snapshot of a running job (see
	// runner.Options.Progress).
	Progress func(name string, s *job.Summary)
	// Finished is called when a job has ended, with its summary (nil when
	// it never ran) and its error.
	Finished func(r Result)
}

// Result is how one job of an application ended.
type Result struct {
	// Name names the job; Job is the prepared job (nil when it never was).
	Name string
	Job  *runner.Job
	// Summary is the job's summary (nil when it never ran).
	Summary *job.Summary
	// Err is the job's error, if any.
	Err error
}

// Run is a running application.
type Run struct {
	app   *App
	opts  runner.Options
	hooks Hooks

	streams map[string]*pipe.Stream // in-process streams by lower-cased name
	jobs    map[string]*jobRun

	mu        sync.Mutex
	stopping  bool
	failure   error // the first failing job's error, under OnFailure stop
	wg        sync.WaitGroup
	startTime time.Time
}

// jobRun is one job of a running application.
type jobRun struct {
	node   *Node
	opts   runner.Options
	ctx    context.Context
	cancel context.CancelFunc
	// prepared is closed once the job was prepared (job set) or will not be.
	prepared chan struct{}
	once     sync.Once
	// opened is closed once the job's sinks are open: the topics it writes
	// for other statements exist, with their schemas registered.
	opened     chan struct{}
	openedOnce sync.Once
	// finished is closed once the job has ended and been reported.
	finished chan struct{}

	mu     sync.Mutex
	state  string
	job    *runner.Job
	result Result
}

// Start prepares every job of a (opening their sources and sinks, planning
// and compiling, writers before readers) and starts them. opts apply to
// every statement. A job whose input comes through a file is prepared when
// its writer has finished. An error preparing a job stops the ones
// prepared so far and is returned, prefixed with the statement's position;
// so is a read of an undefined name (App.Undefined).
func (a *App) Start(ctx context.Context, opts runner.Options, hooks Hooks) (*Run, error) {
	if a.undefined != nil {
		return nil, &runner.ConfigError{Err: a.undefined}
	}
	if opts.Schemas == nil {
		opts.Schemas = runner.NewSchemas() // infer each schema once
	}
	if err := a.Check(ctx, opts); err != nil {
		return nil, err
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	// jobs writing stdout at once write whole batches of lines, one at a time
	opts.Stdout = &lockedWriter{w: opts.Stdout}
	r := &Run{app: a, opts: opts, hooks: hooks, streams: map[string]*pipe.Stream{}, jobs: map[string]*jobRun{},
		startTime: time.Now()}
	for _, n := range a.Nodes {
		for _, e := range n.Outputs {
			if e.Via == InProcess {
				r.streams[edgeKey(e)] = pipe.New(e.Stream)
			}
		}
	}
	base := context.WithoutCancel(ctx)
	waits := map[string]bool{}
	for _, n := range a.Nodes {
		jr := &jobRun{node: n, state: Pending, prepared: make(chan struct{}), opened: make(chan struct{}),
			finished: make(chan struct{})}
		jr.ctx, jr.cancel = context.WithCancel(base)
		jr.opts = r.jobOptions(n)
		r.jobs[n.Name] = jr
		waits[n.Name] = n.bootstraps
		for _, e := range n.Inputs {
			// a topic's reader opens it once its writer has created it
			waits[n.Name] = waits[n.Name] || e.Via == File || e.Via == Kafka || (e.Via == InProcess && waits[e.From])
		}
		if waits[n.Name] {
			continue
		}
		if err := r.prepare(ctx, jr); err != nil {
			r.discard()
			return nil, err
		}
	}
	for _, n := range a.Nodes {
		jr := r.jobs[n.Name]
		r.wg.Add(1)
		go r.runJob(ctx, jr)
		if len(r.inStreams(n)) > 0 {
			go r.stopWhenInputsStop(jr)
		}
	}
	go func() {
		select {
		case <-ctx.Done():
			r.Stop()
		case <-r.done():
		}
	}()
	return r, nil
}

// done returns a channel closed when every job has ended.
func (r *Run) done() <-chan struct{} {
	ch := make(chan struct{})
	go func() { r.wg.Wait(); close(ch) }()
	return ch
}

// jobOptions returns the runner options of node n.
func (r *Run) jobOptions(n *Node) runner.Options {
	o := r.app.nodeOptions(n, r.opts)
	o.InProcess = &links{r: r, n: n}
	if r.hooks.Progress != nil {
		name := n.Name
		o.Progress = func(s *job.Summary) { r.hooks.Progress(name, s) }
	}
	return o
}

// nodeOptions returns opts for node n: named after n, with the properties
// of the Kafka topics and files it reads from other statements as --set
// overrides.
func (a *App) nodeOptions(n *Node, opts runner.Options) runner.Options {
	o := opts
	o.JobName = n.Name
	o.KeepOrder = inProcessOut(n)
	o.Catalog = a.Catalog
	o.Set = jobSet(opts.Set)
	col, push := a.writerTime(n, opts.Set)
	if push != "" {
		o.Set[eventTimeKey] = push
	}
	for _, e := range n.Outputs {
		o.CarryWatermarks = o.CarryWatermarks || a.carries(n, e, col, opts.Set)
	}
	for _, e := range n.Inputs {
		if e.Via == InProcess {
			continue
		}
		w := a.Node(e.From)
		for k, v := range readerProps(e, w.Stmt.Query) {
			if property(n.Stmt.Query, k) == "" && !hasKey(o.Set, k) {
				o.Set[k] = v
			}
		}
	}
	return o
}

// hasKey reports whether m has key k, case-insensitively.
func hasKey(m map[string]string, k string) bool {
	for have := range m {
		if strings.EqualFold(have, k) {
			return true
		}
	}
	return false
}

// readerProps are the source properties a reader of e gets from the
// writer's sink properties: the same topic or file, as a source. A topic
// is read on the writer's cluster, connected as the writer connects, in
// its format with its Schema Registry: the writer's own '<x>.*' options,
// else its statement's 'kafka.<option>' defaults.
func readerProps(e *Edge, writer *sql.Select) map[string]string {
	prefix := strings.ToLower(e.Stream) + "."
	out := map[string]string{}
	registry := false
	for _, p := range writer.With {
		k := strings.ToLower(p.Key)
		if k == prefix+"format" {
			registry = registryFormats[strings.ToLower(strings.TrimSpace(p.Value))]
		}
	}
	defaults := map[string]string{}
	for _, p := range writer.With {
		k := strings.ToLower(p.Key)
		if rest, ok := strings.CutPrefix(k, kafka.JobPrefix+"."); ok && e.Via == Kafka && connOption(rest, registry) {
			defaults[e.Stream+"."+rest] = p.Value
		}
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		switch {
		case rest == "type":
		case e.Via == Kafka && (rest == "topic.name" || rest == "format" || connOption(rest, registry)):
			out[e.Stream+"."+rest] = p.Value
		case e.Via == File && (rest == "path" || rest == "format" || rest == "delimiter" || rest == "has_header"):
			out[e.Stream+"."+rest] = p.Value
		}
	}
	for k, v := range defaults {
		if _, set := out[k]; !set {
			out[k] = v
		}
	}
	if e.Via == Kafka {
		out[e.Stream+".type"] = "kafka_source"
	} else {
		out[e.Stream+".type"] = "file_source"
	}
	return out
}

// registryFormats are the Kafka formats whose schemas are in a Schema
// Registry.
var registryFormats = map[string]bool{"avro": true, "protobuf": true, "json_sr": true}

// connOption reports whether the Kafka option opt says how a reader reaches
// and decodes a writer's topic: its brokers and security, and with a
// registry format its Schema Registry (not the sink's registering options).
func connOption(opt string, registry bool) bool {
	switch {
	case opt == "bootstrap.servers", strings.HasPrefix(opt, "security."), strings.HasPrefix(opt, "sasl."), strings.HasPrefix(opt, "ssl."):
		return true
	}
	return registry && strings.HasPrefix(opt, "schema.registry.")
}

// inStreams returns the in-process streams n reads.
func (r *Run) inStreams(n *Node) []*pipe.Stream { return r.inProcess(n.Inputs) }

// outStreams returns the in-process streams n writes.
func (r *Run) outStreams(n *Node) []*pipe.Stream { return r.inProcess(n.Outputs) }

// inProcess returns the streams of the in-process links among edges.
func (r *Run) inProcess(edges []*Edge) []*pipe.Stream {
	var out []*pipe.Stream
	for _, e := range edges {
		if e.Via == InProcess {
			out = append(out, r.streams[edgeKey(e)])
		}
	}
	return out
}

// edgeKey names the in-process stream of one link: a stream read by
// several statements has one per reader, all written by its writer.
func edgeKey(e *Edge) string {
	return strings.ToLower(e.Stream) + "\x00" + strings.ToLower(e.To)
}

// prepare prepares jr's job and configures the stream it writes.
func (r *Run) prepare(ctx context.Context, jr *jobRun) error {
	n := jr.node
	j, err := runner.Prepare(ctx, n.Stmt, jr.opts)
	if err != nil {
		return r.app.positioned(n, err)
	}
	for _, e := range n.Outputs {
		if e.Via != InProcess {
			continue
		}
		s := r.streams[edgeKey(e)]
		s.Configure(n.Name, n.output(j.Program), j.Program.KeySlots(), j.Plan.Partitions, j.Facts.Partitions, j.Bounded())
		if col, _ := r.app.writerTime(n, r.opts.Set); r.app.carries(n, e, col, r.opts.Set) {
			s.CarryWatermarks()
		}
		if reader := r.app.Node(e.To); reader.bootstraps && strings.EqualFold(reader.Reads[0], e.Stream) {
			// the reader takes its stream only once its tables are
			// whole, which may come from this job too
			s.Hold()
		}
	}
	j.SetOnOpen(func() { jr.openedOnce.Do(func() { close(jr.opened) }) })
	jr.mu.Lock()
	jr.job = j
	jr.mu.Unlock()
	jr.once.Do(func() { close(jr.prepared) })
	if r.hooks.Prepared != nil {
		r.hooks.Prepared(j)
	}
	return nil
}

// discard releases every prepared job after a failed start.
func (r *Run) discard() {
	for _, n := range r.app.Nodes {
		jr := r.jobs[n.Name]
		if jr.job != nil {
			jr.job.Discard()
		}
		jr.cancel()
	}
}

// runJob waits for jr's inputs if it must, prepares it if it was not, and
// runs it.
func (r *Run) runJob(ctx context.Context, jr *jobRun) {
	defer r.wg.Done()
	res := Result{Name: jr.node.Name}
	defer func() {
		jr.cancel()
		if res.Err == nil && res.Summary != nil && !res.Summary.Interrupted {
			// Its in-process writers have ended their input and are
			// committing, once they know it has: it ends after them.
			for _, e := range jr.node.Inputs {
				if e.Via == InProcess {
					<-r.jobs[e.From].finished
				}
			}
		}
		defer close(jr.finished)
		jr.mu.Lock()
		switch {
		case res.Err != nil:
			jr.state = Failed
		case res.Summary != nil && res.Summary.Interrupted, res.Summary == nil:
			jr.state = Interrupted
		default:
			jr.state = Done
		}
		jr.result = res
		prepared := jr.job
		jr.mu.Unlock()
		jr.once.Do(func() { close(jr.prepared) })
		if res.Summary == nil && prepared != nil {
			// it was stopped before it ran: the readers of its
			// in-process streams, which may run already, end as
			// interrupted; those of a job that failed or never ran for
			// a failure fail rather than wait
			if res.Job == nil && res.Err == nil {
				for _, s := range r.outStreams(jr.node) {
					if s.Interrupted() {
						s.Sink().Close()
					}
				}
			}
			prepared.Discard()
		}
		if res.Job == nil {
			// it never read its in-process inputs: their writers stop
			// waiting for its commits
			for _, s := range r.inStreams(jr.node) {
				s.Source().Close()
			}
		}
		if r.hooks.Finished != nil {
			r.hooks.Finished(res)
		}
		if res.Err != nil {
			r.jobFailed(jr.node.Name, res.Err)
		}
	}()
	if !r.awaitInputs(jr) {
		return
	}
	if jr.job == nil {
		// a join bootstrapping a table written in process waits here for
		// its writer to end, until the job is stopped
		if err := r.prepare(jr.ctx, jr); err != nil && jr.ctx.Err() == nil {
			res.Err = err
			return
		} else if err != nil {
			return
		}
	}
	jr.mu.Lock()
	if jr.ctx.Err() == nil {
		jr.state = Running
	}
	jr.mu.Unlock()
	res.Job = jr.job
	res.Summary, res.Err = jr.job.Run(jr.ctx)
}

// awaitInputs waits, for each input of jr, until its writer is ready: a
// job writing an in-process stream prepared; one writing a file finished
// well; one writing a topic with the topic open (it exists, its schema is
// registered), or finished well when its input ends and jr reads the
// topic to its end ('<x>.stop.at' = 'end', --until-end), so that the end
// jr reads to is all the writer wrote. It reports false when jr must not
// run (a writer did not get there, or jr was stopped).
func (r *Run) awaitInputs(jr *jobRun) bool {
	for _, e := range jr.node.Inputs {
		w := r.jobs[e.From]
		ok := true
		switch e.Via {
		case InProcess:
			ok = r.await(jr, w, w.prepared) && w.prepareDone()
		case File:
			ok = r.await(jr, w, nil)
		case Kafka:
			ok = r.await(jr, w, w.prepared) && w.prepareDone()
			if ok && r.readsToEnd(jr.node, e.Stream) && w.job.Bounded() {
				ok = r.await(jr, w, nil)
			} else if ok {
				ok = r.await(jr, w, w.opened)
			}
		}
		if !ok {
			return false
		}
	}
	return jr.ctx.Err() == nil
}

// await waits until ch is closed (nil: until w has finished well); it
// reports false when w ended otherwise first, or jr was stopped.
func (r *Run) await(jr, w *jobRun, ch <-chan struct{}) bool {
	for {
		w.mu.Lock()
		st := w.state
		w.mu.Unlock()
		if ch == nil && st == Done {
			return true
		}
		select {
		case <-ch:
			return true
		default:
		}
		if st == Done || st == Failed || st == Interrupted {
			return false
		}
		select {
		case <-ch:
			return true
		case <-jr.ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// prepareDone reports whether jr's job was prepared.
func (jr *jobRun) prepareDone() bool {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	return jr.job != nil
}

// readsToEnd reports whether n reads the topic of stream to its end as
// of when it starts ('<stream>.stop.at' = 'end', or --until-end).
func (r *Run) readsToEnd(n *Node, stream string) bool {
	v := property(n.Stmt.Query, stream+".stop.at")
	for k, sv := range r.opts.Set {
		if strings.EqualFold(k, stream+".stop.at") {
			v = sv
		}
	}
	return r.opts.UntilEnd || strings.EqualFold(strings.TrimSpace(v), "end")
}

// stopWhenInputsStop stops jr once every in-process stream it reads has
// ended and one of them was interrupted: jr then has all the rows it will
// get, and drains and commits them instead of finishing its windows.
func (r *Run) stopWhenInputsStop(jr *jobRun) {
	ins := r.inStreams(jr.node)
	for _, s := range ins {
		select {
		case <-s.Ended():
		case <-jr.ctx.Done():
			return
		}
	}
	for _, s := range ins {
		if s.Interrupted() {
			r.stopJob(jr)
			return
		}
	}
}

// stopJob drains jr: the jobs reading its in-process output are told it
// stops, then its reading stops.
func (r *Run) stopJob(jr *jobRun) {
	for _, s := range r.outStreams(jr.node) {
		s.Interrupt()
	}
	jr.mu.Lock()
	if jr.state == Running || jr.state == Pending {
		jr.state = Stopping
	}
	jr.mu.Unlock()
	jr.cancel()
}

// Stop drains the application upstream-first: the jobs that read no
// in-process stream stop reading; each job downstream stops once it has
// read everything its writers produced.
func (r *Run) Stop() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	for _, n := range r.app.Nodes {
		if len(r.inStreams(n)) == 0 {
			r.stopJob(r.jobs[n.Name])
		}
	}
}

// StopJob drains the job called name and, through their streams, the jobs
// reading its in-process output. It reports false when there is no such job.
func (r *Run) StopJob(name string) bool {
	jr := r.jobs[name]
	if jr == nil {
		return false
	}
	r.stopJob(jr)
	return true
}

// jobFailed applies the failure policy to a failed job.
func (r *Run) jobFailed(name string, err error) {
	r.mu.Lock()
	first := r.failure == nil
	if first {
		r.failure = fmt.Errorf("job %s failed: %w", name, err)
	}
	r.mu.Unlock()
	if first && r.app.OnFailure == StopOnFailure {
		r.Stop()
	}
}

// Wait waits until every job has ended and returns their results in the
// application's order, with the first job failure (nil when none failed).
func (r *Run) Wait() ([]Result, error) {
	r.wg.Wait()
	out := make([]Result, 0, len(r.app.Nodes))
	for _, n := range r.app.Nodes {
		jr := r.jobs[n.Name]
		jr.mu.Lock()
		out = append(out, jr.result)
		jr.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return out, r.failure
}

// Elapsed is the time since the application started.
func (r *Run) Elapsed() time.Duration { return time.Since(r.startTime) }

// JobState is a running job's state and its prepared job (nil before).
type JobState struct {
	Name  string
	State string
	Job   *runner.Job
	// Result is set once the job has ended.
	Result *Result
}

// Jobs returns the state of every job, in the application's order.
func (r *Run) Jobs() []JobState {
	out := make([]JobState, 0, len(r.app.Nodes))
	for _, n := range r.app.Nodes {
		jr := r.jobs[n.Name]
		jr.mu.Lock()
		st := JobState{Name: n.Name, State: jr.state, Job: jr.job}
		if st.State == Done || st.State == Interrupted || st.State == Failed {
			res := jr.result
			st.Result = &res
		}
		jr.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// App returns the application being run.
func (r *Run) App() *App { return r.app }

// links connects one job to its application's in-process streams.
type links struct {
	r *Run
	n *Node
}

// Source implements runner.InProcess.
func (l *links) Source(name string) (connector.Source, connector.Schema) {
	for _, e := range l.n.Inputs {
		if e.Via == InProcess && strings.EqualFold(e.Stream, name) {
			s := l.r.streams[edgeKey(e)]
			return s.Source(), s.Schema()
		}
	}
	return nil, connector.Schema{}
}

// Sink implements runner.InProcess.
func (l *links) Sink(name string) connector.Sink {
	outs := l.r.outStreams(l.n)
	if len(outs) == 0 || !strings.EqualFold(outs[0].Name(), name) {
		return nil
	}
	sinks := make([]connector.Sink, len(outs))
	for i, s := range outs {
		sinks[i] = s.Sink()
	}
	return pipe.Tee(sinks...)
}

// Gate implements runner.InProcess.
func (l *links) Gate(src connector.Source) connector.Source {
	if s := l.r.outStreams(l.n); len(s) > 0 {
		return pipe.NewGate(src, s)
	}
	return src
}

// lockedWriter serialises the writes of several jobs to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
