package atlassiantest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestConcurrentCreateSameUserName(t *testing.T) {
	h := start(t, Options{})
	const n = 32
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Distinct emails, so only the userName collides.
			r := h.do("POST", "/Users", user("same@example.com", "emails", []any{map[string]any{"value": fmt.Sprintf("e%d@example.com", i)}}))
			statuses[i] = r.status
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 409", count, n-1)
	}
	if u, _ := h.s.Counts(); u != 1 {
		t.Fatalf("%d users", u)
	}
}

func TestConcurrentCreateSameEmail(t *testing.T) {
	h := start(t, Options{})
	const n = 16
	var mu sync.Mutex
	count := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := h.do("POST", "/Users", user(fmt.Sprintf("u%d", i), "emails", []any{map[string]any{"value": "shared@example.com"}}))
			mu.Lock()
			count[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if count[201] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v", count)
	}
}

// TestConcurrentMixedWorkload runs creates, updates, memberships, lists and
// deletes in parallel, then checks that indexes and both membership
// directions agree.
func TestConcurrentMixedWorkload(t *testing.T) {
	h := start(t, Options{})
	groups := []string{h.createGroup("g0"), h.createGroup("g1"), h.createGroup("g2")}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []string
			for i := range 40 {
				switch rng.IntN(6) {
				case 0, 1:
					r := h.do("POST", "/Users", user(fmt.Sprintf("w%d-%d@example.com", w, i)))
					if r.status == 201 {
						mine = append(mine, r.obj(t)["id"].(string))
					}
				case 2:
					if len(mine) > 0 {
						id := mine[rng.IntN(len(mine))]
						h.do("PATCH", "/Groups/"+groups[rng.IntN(3)], patch(op("add", "members", members(id))))
					}
				case 3:
					if len(mine) > 0 {
						id := mine[rng.IntN(len(mine))]
						h.do("PATCH", "/Users/"+id, patch(op("replace", "displayName", fmt.Sprint(i))))
					}
				case 4:
					h.do("GET", "/Users?count=50", nil)
					h.do("GET", "/Groups/"+groups[rng.IntN(3)], nil)
				case 5:
					if len(mine) > 0 {
						k := rng.IntN(len(mine))
						h.do("DELETE", "/Users/"+mine[k], nil)
						mine = append(mine[:k], mine[k+1:]...)
					}
				}
			}
		})
	}
	wg.Wait()
	users := h.s.Users()
	inGroup := map[string]map[string]bool{}
	for _, g := range h.s.Groups() {
		inGroup[g.ID] = map[string]bool{}
		for _, m := range g.Members {
			if _, ok := h.s.User(m.ID); !ok {
				t.Errorf("group %s has deleted member %s", g.DisplayName, m.ID)
			}
			inGroup[g.ID][m.ID] = true
		}
	}
	refs := 0
	for _, u := range users {
		if got, ok := h.s.UserByUserName(u.UserName); !ok || got.ID != u.ID {
			t.Errorf("userName index broken for %s", u.UserName)
		}
		for _, g := range u.Groups {
			refs++
			if !inGroup[g.ID][u.ID] {
				t.Errorf("user %s lists group %s which does not list it", u.UserName, g.DisplayName)
			}
		}
	}
	total := 0
	for _, set := range inGroup {
		total += len(set)
	}
	if total != refs {
		t.Errorf("%d memberships from groups, %d from users", total, refs)
	}
}
