package atlassiantest

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func BenchmarkCreateUser(b *testing.B) {
	h := start(b, Options{Now: time.Now})
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := fmt.Sprintf("bench-%d@example.com", n.Add(1))
			if r := h.do("POST", "/Users", user(name)); r.status != 201 {
				b.Fatalf("status %d: %s", r.status, r.body)
			}
		}
	})
}

func BenchmarkFilterUserName(b *testing.B) {
	h := start(b, Options{Now: time.Now})
	const users = 10000
	seedUsers(b, h.s, users, "f")
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1) % users
			q := "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "f-%04d@example.com"`, i))
			if r := h.do("GET", q, nil); r.status != 200 || len(r.body) < 200 {
				b.Fatalf("status %d: %s", r.status, r.body)
			}
		}
	})
}

// BenchmarkHandler measures the fake's own cost per request, without the
// network and client (ServeHTTP on a recorder).
func BenchmarkHandler(b *testing.B) {
	s, err := New(Options{Token: "secret"})
	if err != nil {
		b.Fatal(err)
	}
	seedUsers(b, s, 10000, "h")
	serve := func(method, target, body string) int {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer secret")
		if body != "" {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	base := "/scim/directory/" + DefaultDirectoryID
	b.Run("POST Users", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			body := fmt.Sprintf(`{"userName":"hb-%d@example.com","emails":[{"value":"hb-%d@example.com","primary":true}]}`, i, i)
			if code := serve("POST", base+"/Users", body); code != 201 {
				b.Fatalf("status %d", code)
			}
		}
	})
	b.Run("GET filter userName", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			q := url.QueryEscape(fmt.Sprintf(`userName eq "h-%04d@example.com"`, i%10000))
			if code := serve("GET", base+"/Users?filter="+q, ""); code != 200 {
				b.Fatalf("status %d", code)
			}
		}
	})
}
