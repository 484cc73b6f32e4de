package atlassiantest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

func TestCallCounting(t *testing.T) {
	h := start(t, Options{RecordCalls: true})
	id := h.createUser("a@example.com")
	h.do("GET", "/Users/"+id, nil)
	h.do("GET", "/Users?filter=userName%20eq%20%22a%40example.com%22", nil)
	h.do("PATCH", "/Users/"+id, patch(op("replace", "title", "x")))
	h.do("GET", "/Groups", nil)
	h.do("GET", "/Schemas", nil)
	h.do("GET", "/nope", nil)
	h.token = "wrong"
	h.do("GET", "/Users", nil)
	want := map[CallKey]int{
		{"POST", KindUsers}:  1,
		{"GET", KindUser}:    1,
		{"GET", KindUsers}:   2,
		{"PATCH", KindUser}:  1,
		{"GET", KindGroups}:  1,
		{"GET", KindSchemas}: 1,
		{"GET", KindOther}:   1,
	}
	if got := h.s.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("Calls = %v, want %v", got, want)
	}
	if h.s.CallCount("GET", "") != 6 || h.s.CallCount("", KindUser) != 2 || h.s.CallCount("", "") != 8 {
		t.Error("CallCount wildcards")
	}
	log := h.s.CallLog()
	if len(log) != 8 {
		t.Fatalf("log has %d calls", len(log))
	}
	if c := log[2]; c.Method != "GET" || c.Path != "/scim/directory/test-directory/Users" || c.Query != "filter=userName%20eq%20%22a%40example.com%22" || c.Status != 200 || c.Kind != KindUsers {
		t.Errorf("log[2] = %+v", c)
	}
	if c := log[7]; c.Status != 401 || c.Fault != FaultAuth {
		t.Errorf("log[7] = %+v", c)
	}
	// Without RecordCalls nothing is logged, but counting goes on.
	h2 := start(t, Options{})
	h2.do("GET", "/Users", nil)
	if len(h2.s.CallLog()) != 0 || h2.s.CallCount("GET", KindUsers) != 1 {
		t.Error("RecordCalls off")
	}
}

func TestWaitCalls(t *testing.T) {
	h := start(t, Options{})
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() { h.do("POST", "/Users", user(fmt.Sprintf("w%d@example.com", i))) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.WaitCalls(ctx, "POST", KindUsers, 5); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.s.Counts(); n != 5 {
		t.Errorf("users = %d after waiting for 5 POSTs", n)
	}
	wg.Wait()
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := h.s.WaitCalls(short, "", "", 100); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitCalls = %v, want deadline exceeded", err)
	}
}
