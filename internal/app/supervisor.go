package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// errStopped is returned by supervisor.set once the supervisor stopped.
var errStopped = errors.New("the background loops are stopped")

// supervisor runs the gateway's named background loops (reconcilers,
// importer, report retention), each a Run(ctx) error. A loop can be
// replaced at any time, before or while the loops run: a reload that
// changes the apps swaps the reconcilers for new ones; the old loop is
// stopped and waited for before the new one starts, so two never run at
// once. On shutdown the loops stop one at a time in a given order. A
// loop's error is never lost: one that ends before it is stopped is
// logged when it ends, a replaced loop's error is logged, and stop
// returns the errors of the loops it stopped.
type supervisor struct {
	log *slog.Logger

	mu      sync.Mutex
	base    context.Context // loops run under it; nil until start
	stopped bool
	loops   []*loop // in registration order
}

// loop is one named background loop and, once started, its run.
type loop struct {
	name string
	run  func(ctx context.Context) error

	cancel context.CancelFunc // nil until started
	done   chan struct{}      // closed when run has returned
	err    error              // run's error; read after done
}

func newSupervisor(log *slog.Logger) *supervisor {
	return &supervisor{log: log}
}

// set registers run as the loop called name, in place of the loop of that
// name registered before. While the loops run, the old one is stopped and
// waited for (its error logged), then run starts. It fails once stop has
// been called.
func (s *supervisor) set(name string, run func(context.Context) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return fmt.Errorf("start %s: %w", name, errStopped)
	}
	l := &loop{name: name, run: run}
	i := slices.IndexFunc(s.loops, func(o *loop) bool { return o.name == name })
	if i < 0 {
		s.loops = append(s.loops, l)
	} else {
		if err := s.halt(s.loops[i]); err != nil {
			s.log.Warn(name+" stopped", "err", err)
		}
		s.loops[i] = l
	}
	if s.base != nil {
		s.launch(l)
	}
	return nil
}

// start runs every registered loop, and those set later, under ctx's
// values; ctx's cancellation does not stop them (stop does), so they
// outlive the HTTP server's shutdown. Calling it again does nothing.
func (s *supervisor) start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base != nil || s.stopped {
		return
	}
	s.base = context.WithoutCancel(ctx)
	for _, l := range s.loops {
		s.launch(l)
	}
}

// launch starts l under s.base. s.mu is held.
func (s *supervisor) launch(l *loop) {
	ctx, cancel := context.WithCancel(s.base)
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		err := l.run(ctx)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			err = nil // stopped as asked
		}
		l.err = err
		if ctx.Err() == nil {
			if err != nil {
				s.log.Error("background loop failed", "loop", l.name, "err", err)
			} else {
				s.log.Warn("background loop ended before it was stopped", "loop", l.name)
			}
		}
	}()
}

// halt stops l if it runs, waits for it and returns its error. s.mu is
// held.
func (s *supervisor) halt(l *loop) error {
	if l.cancel == nil {
		return nil
	}
	l.cancel()
	<-l.done
	return l.err
}

// stop stops the loops one at a time, waiting for each: the loops named
// in order first, in that order, then the others in the reverse of their
// registration. It returns their errors, each named by its loop. After
// stop, set fails and start does nothing.
func (s *supervisor) stop(order ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	var seq []*loop
	for _, name := range order {
		if i := slices.IndexFunc(s.loops, func(l *loop) bool { return l.name == name }); i >= 0 && !slices.Contains(seq, s.loops[i]) {
			seq = append(seq, s.loops[i])
		}
	}
	for _, l := range slices.Backward(s.loops) {
		if !slices.Contains(seq, l) {
			seq = append(seq, l)
		}
	}
	var errs []error
	for _, l := range seq {
		if err := s.halt(l); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
		}
	}
	return errors.Join(errs...)
}
