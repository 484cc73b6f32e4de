package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects a logger's output; safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestSupervisor() (*supervisor, *logBuffer) {
	logs := &logBuffer{}
	return newSupervisor(slog.New(slog.NewTextHandler(logs, nil))), logs
}

// waitClosed fails t unless ch is closed within a few seconds.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// blocking is a loop that runs until its context ends, then records that
// it ended.
type blocking struct {
	started chan struct{}
	ended   chan struct{}
	err     error // returned when stopped
}

func newBlocking(err error) *blocking {
	return &blocking{started: make(chan struct{}), ended: make(chan struct{}), err: err}
}

func (b *blocking) run(ctx context.Context) error {
	close(b.started)
	<-ctx.Done()
	close(b.ended)
	return b.err
}

// TestSupervisorRestartReplaces: set on a running loop stops the old one
// and waits for it before the new one starts; the new one runs until
// stop.
func TestSupervisorRestartReplaces(t *testing.T) {
	s, logs := newTestSupervisor()
	first := newBlocking(nil)
	if err := s.set("reconcilers", first.run); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.started:
		t.Fatal("a loop ran before start")
	case <-time.After(20 * time.Millisecond):
	}
	s.start(context.Background())
	waitClosed(t, first.started, "the first loop to start")

	second := &blocking{started: make(chan struct{}), ended: make(chan struct{})}
	overlapped := make(chan bool, 1)
	if err := s.set("reconcilers", func(ctx context.Context) error {
		select {
		case <-first.ended:
			overlapped <- false
		default:
			overlapped <- true
		}
		return second.run(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	// set returned: the old loop has ended, the new one started.
	select {
	case <-first.ended:
	default:
		t.Fatal("set returned before the replaced loop ended")
	}
	if <-overlapped {
		t.Error("the new loop started while the old one still ran")
	}
	waitClosed(t, second.started, "the new loop to start")
	select {
	case <-second.ended:
		t.Fatal("the new loop ended before stop")
	case <-time.After(20 * time.Millisecond):
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, second.ended, "the new loop to stop")
	if strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("clean restart and stop logged:\n%s", logs)
	}
}

// TestSupervisorStopOrder: stop stops the named loops in the order given,
// then the others in reverse registration order, one after the other.
func TestSupervisorStopOrder(t *testing.T) {
	s, _ := newTestSupervisor()
	var (
		mu    sync.Mutex
		order []string
	)
	for _, name := range []string{"retention", "reconcilers", "importer", "extra1", "extra2"} {
		if err := s.set(name, func(ctx context.Context) error {
			<-ctx.Done()
			// Were stops concurrent, a later loop could record first.
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	s.start(context.Background())
	if err := s.stop("reconcilers", "importer", "retention", "nosuch", "importer"); err != nil {
		t.Fatal(err)
	}
	want := []string{"reconcilers", "importer", "retention", "extra2", "extra1"}
	if !slices.Equal(order, want) {
		t.Errorf("stop order %v, want %v", order, want)
	}
}

// TestSupervisorErrors: a loop's error is logged when the loop fails on
// its own and returned by stop; an error returned when stopped is
// returned too; a replaced loop's error is logged; context.Canceled from
// a loop told to stop is not an error.
func TestSupervisorErrors(t *testing.T) {
	s, logs := newTestSupervisor()
	boom := errors.New("boom: retention clock broke")
	failed := make(chan struct{})
	if err := s.set("retention", func(context.Context) error { defer close(failed); return boom }); err != nil {
		t.Fatal(err)
	}
	flush := errors.New("flush on stop failed")
	if err := s.set("importer", newBlocking(flush).run); err != nil {
		t.Fatal(err)
	}
	if err := s.set("reconcilers", newBlocking(context.Canceled).run); err != nil {
		t.Fatal(err)
	}
	replaced := newBlocking(errors.New("old reconcilers: drain failed"))
	if err := s.set("extra", replaced.run); err != nil {
		t.Fatal(err)
	}
	s.start(context.Background())
	waitClosed(t, failed, "the failing loop")
	waitClosed(t, replaced.started, "the loop to replace")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "boom") {
		if time.Now().After(deadline) {
			t.Fatalf("the failure was not logged:\n%s", logs)
		}
		time.Sleep(time.Millisecond)
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "loop=retention") {
		t.Errorf("failure log does not name the loop at error level:\n%s", l)
	}
	if err := s.set("extra", newBlocking(nil).run); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); !strings.Contains(l, "drain failed") || !strings.Contains(l, "extra stopped") {
		t.Errorf("the replaced loop's error was not logged:\n%s", l)
	}

	err := s.stop()
	if !errors.Is(err, boom) || !errors.Is(err, flush) || errors.Is(err, context.Canceled) {
		t.Fatalf("stop: %v; want boom and the flush error, not context.Canceled", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "retention: boom") || !strings.Contains(msg, "importer: flush") {
		t.Errorf("stop error does not name its loops: %v", msg)
	}
}

// TestSupervisorAfterStop: once stopped, set refuses and start does
// nothing, so a late reload cannot start a loop no one will stop.
func TestSupervisorAfterStop(t *testing.T) {
	s, _ := newTestSupervisor()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	late := newBlocking(nil)
	if err := s.set("reconcilers", late.run); !errors.Is(err, errStopped) {
		t.Fatalf("set after stop: %v, want errStopped", err)
	}
	s.start(context.Background())
	select {
	case <-late.started:
		t.Fatal("a loop started after stop")
	case <-time.After(20 * time.Millisecond):
	}
}

// TestSupervisorOutlivesStartContext: the loops ignore the cancellation
// of the context they were started under (the HTTP server's), and end on
// stop only.
func TestSupervisorOutlivesStartContext(t *testing.T) {
	s, _ := newTestSupervisor()
	b := newBlocking(nil)
	if err := s.set("reconcilers", b.run); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.start(ctx)
	waitClosed(t, b.started, "the loop to start")
	cancel()
	select {
	case <-b.ended:
		t.Fatal("the loop ended with the start context")
	case <-time.After(20 * time.Millisecond):
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, b.ended, "the loop to stop")
}
