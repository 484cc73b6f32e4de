package bolt

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.etcd.io/bbolt"
)

// Writes go through a group commit. bbolt allows one read-write
// transaction at a time and each commit costs two fsyncs, so concurrent
// writers that each ran their own transaction would queue up for the disk
// one fsync pair at a time. Instead, a writer that finds no commit in
// progress runs its function at once, alone (no added latency); writers
// that arrive meanwhile queue, and the next of them runs every queued
// function in one transaction and one commit.
//
// Each function must compute everything from the transaction and assign
// its results on every run, because a function may run more than once:
// when a function fails, the whole transaction rolls back (bbolt has no
// savepoints) and the others run again without it. The failed function's
// error is final when no other function ran before it in that
// transaction; otherwise it is run again alone, so that its error never
// reflects writes of others that did not commit. Unlike db.Batch there is
// no timer: a batch is whatever queued during the previous commit.

// maxBatch bounds the functions of one transaction.
const maxBatch = 128

// writeOp is one caller's read-write function.
type writeOp struct {
	ctx     context.Context
	fn      func(tx *bbolt.Tx) (changed bool, err error)
	err     error
	settled bool      // err is final
	wake    chan bool // true: lead the next batch; false: settled by a leader
}

// committer queues write functions for the group commit.
type committer struct {
	mu      sync.Mutex
	queue   []*writeOp
	leading bool // a writer is running a batch; while false, queue is empty
}

// update runs fn in a read-write transaction. The transaction commits when
// fn succeeds and reports a change (or another function of its batch
// does); when every function of a batch changed nothing, it rolls back,
// which saves the write and fsyncs of a no-op (an empty Claim, a refused
// lock). ctx is checked again once the writer lock is held, so a caller
// that gave up while queued writes nothing.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) (changed bool, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &writeOp{ctx: ctx, fn: fn, wake: make(chan bool, 1)}
	c := &s.commit
	c.mu.Lock()
	c.queue = append(c.queue, op)
	lead := !c.leading
	c.leading = true
	c.mu.Unlock()
	if lead || <-op.wake {
		s.lead()
	}
	return op.err
}

// lead runs one batch, which starts with the leader's own function, then
// hands leadership to the first writer that queued meanwhile.
func (s *Store) lead() {
	c := &s.commit
	c.mu.Lock()
	n := min(len(c.queue), maxBatch)
	batch := slices.Clone(c.queue[:n])
	c.queue = slices.Delete(c.queue, 0, n)
	c.mu.Unlock()

	s.runBatch(batch)

	c.mu.Lock()
	var next *writeOp
	if len(c.queue) > 0 {
		next = c.queue[0]
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	for _, op := range batch[1:] {
		op.wake <- false
	}
	if next != nil {
		next.wake <- true
	}
}

// runBatch settles every op: it runs them together, dropping failed ones
// until the rest commit, then reruns alone those whose failure was not
// final.
func (s *Store) runBatch(ops []*writeOp) {
	var solo []*writeOp
	for len(ops) > 0 {
		i := s.tryBatch(ops)
		if i < 0 {
			break
		}
		if !ops[i].settled {
			solo = append(solo, ops[i])
		}
		ops = slices.Delete(slices.Clone(ops), i, i+1)
	}
	for _, op := range solo {
		s.tryBatch([]*writeOp{op}) // alone, a failure is final
	}
}

// tryBatch runs the unsettled ops in one transaction. When all succeed it
// commits (if any changed something), settles them with the commit's
// result and returns -1. When one fails, it rolls back and returns its
// index; the op is settled with its error if no other op ran before it.
func (s *Store) tryBatch(ops []*writeOp) int {
	tx, err := s.db.Begin(true)
	if err != nil {
		settleAll(ops, err)
		return -1
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	ran, changed := 0, false
	for i, op := range ops {
		if op.settled {
			continue
		}
		if err := op.ctx.Err(); err != nil {
			op.err, op.settled = err, true
			continue
		}
		c, err := call(op.fn, tx)
		if err != nil {
			op.err, op.settled = err, ran == 0
			return i
		}
		ran++
		changed = changed || c
	}
	if changed {
		err = tx.Commit()
	}
	settleAll(ops, err)
	return -1
}

func settleAll(ops []*writeOp, err error) {
	for _, op := range ops {
		if !op.settled {
			op.err, op.settled = err, true
		}
	}
}

// call runs fn, turning a panic into an error: fn runs on the leader's
// goroutine, which may belong to another caller.
func call(fn func(tx *bbolt.Tx) (bool, error), tx *bbolt.Tx) (changed bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			changed, err = false, fmt.Errorf("panic in write transaction: %v", p)
		}
	}()
	return fn(tx)
}
