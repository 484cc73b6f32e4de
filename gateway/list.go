package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scim-gateway/internal/jsondoc"
	"github.com/scimgate/scim-gateway/internal/scim"
	"github.com/scimgate/scim-gateway/internal/store"
)

// query is a list request: from GET query parameters or a POST .search
// body (RFC 7644 §3.4.2, §3.4.3).
type query struct {
	filter     string
	sortBy     string
	sortOrder  string
	startIndex int
	count      int
	proj       projection
}

// scanBatch is how many resources one store read returns while a filter
// that no index answers is evaluated over the whole collection.
const scanBatch = 500

func (s *Server) queryFromParams(c echo.Context) (query, error) {
	q := query{
		filter:    c.QueryParam("filter"),
		sortBy:    c.QueryParam("sortBy"),
		sortOrder: c.QueryParam("sortOrder"),
		proj:      projectionOf(c),
	}
	var err error
	if q.startIndex, err = intParam(c.QueryParam("startIndex"), 1, "startIndex"); err != nil {
		return q, err
	}
	if q.count, err = intParam(c.QueryParam("count"), s.opts.DefaultCount, "count"); err != nil {
		return q, err
	}
	return s.clamp(q), nil
}

func intParam(v string, def int, name string) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, scim.ErrInvalidValue.Detailf("%s must be an integer, got %q", name, v)
	}
	return n, nil
}

// clamp applies RFC 7644 §3.4.2.4: a startIndex below 1 is 1, a negative
// count is 0, and count is capped at the configured maximum.
func (s *Server) clamp(q query) query {
	if q.startIndex < 1 {
		q.startIndex = 1
	}
	if q.count < 0 {
		q.count = 0
	}
	if q.count > s.opts.MaxResults {
		q.count = s.opts.MaxResults
	}
	return q
}

func (s *Server) list(k *kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		q, err := s.queryFromParams(c)
		if err != nil {
			return err
		}
		return s.answer(c, k, q)
	}
}

// searchRequest is the body of POST .search.
type searchRequest struct {
	Schemas            []string `json:"schemas"`
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *int     `json:"startIndex"`
	Count              *int     `json:"count"`
}

func (s *Server) decodeSearch(c echo.Context) (query, error) {
	body, err := readBody(c)
	if err != nil {
		return query{}, err
	}
	var sr searchRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&sr); err != nil {
		return query{}, scim.ErrInvalidSyntax.Detailf("search request: %v", err)
	}
	ok := false
	for _, sch := range sr.Schemas {
		ok = ok || sch == schemaSearch
	}
	if !ok {
		return query{}, scim.ErrInvalidSyntax.Detailf("search request: schemas must contain %s", schemaSearch)
	}
	q := query{filter: sr.Filter, sortBy: sr.SortBy, sortOrder: sr.SortOrder, startIndex: 1, count: s.opts.DefaultCount,
		proj: projection{attributes: sr.Attributes, excluded: sr.ExcludedAttributes}}
	if sr.StartIndex != nil {
		q.startIndex = *sr.StartIndex
	}
	if sr.Count != nil {
		q.count = *sr.Count
	}
	return s.clamp(q), nil
}

func (s *Server) search(k *kind) echo.HandlerFunc {
	return func(c echo.Context) error {
		q, err := s.decodeSearch(c)
		if err != nil {
			return err
		}
		return s.answer(c, k, q)
	}
}

// searchAll is POST /.search at the service root: it searches Users and
// Groups (RFC 7644 §3.4.3); the filter must make sense for both.
func (s *Server) searchAll(c echo.Context) error {
	q, err := s.decodeSearch(c)
	if err != nil {
		return err
	}
	if q.sortBy != "" {
		return scim.ErrInvalidValue.Detailf("sortBy is not supported on a root search across resource types")
	}
	var all []map[string]any
	for _, k := range []*kind{userKind, groupKind} {
		matched, _, err := s.matching(c, k, q)
		if err != nil {
			return err
		}
		if err := s.prefetchGroups(c, k, matched, q.proj); err != nil {
			return err
		}
		for _, r := range matched {
			v, err := s.view(c, k, r, q.proj)
			if err != nil {
				return err
			}
			all = append(all, v)
		}
	}
	total := len(all)
	from := min(q.startIndex-1, total)
	to := min(from+q.count, total)
	return writeSCIM(c, http.StatusOK, listResponse(total, q.startIndex, all[from:to]))
}

func listResponse(total, startIndex int, items []map[string]any) map[string]any {
	if items == nil {
		items = []map[string]any{}
	}
	return map[string]any{
		"schemas":      []string{schemaListResponse},
		"totalResults": total,
		"startIndex":   startIndex,
		"itemsPerPage": len(items),
		"Resources":    items,
	}
}

// answer runs a list query. Without filter and sort it pages straight
// from the store's id-ordered listing. With a filter, indexed equality
// (userName, externalId, emails.value, id, displayName) yields at most
// one candidate; any other filter is evaluated over the collection in
// batches. Results are ordered by id unless sortBy says otherwise, so
// pages are stable as Okta requires.
func (s *Server) answer(c echo.Context, k *kind, q query) error {
	ctx := c.Request().Context()
	if q.filter == "" && q.sortBy == "" {
		page, err := s.opts.Store.List(ctx, k.store, q.startIndex-1, q.count)
		if err != nil {
			return fmt.Errorf("list %s: %w", k.store, err)
		}
		return s.writeList(c, k, q, page.Total, page.Resources)
	}
	matched, docs, err := s.matching(c, k, q)
	if err != nil {
		return err
	}
	if q.sortBy != "" {
		sorter, err := scim.NewSorter(k.rt, q.sortBy, q.sortOrder)
		if err != nil {
			return err
		}
		order := make([]int, len(matched))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return sorter.Compare(docs[a], docs[b]) })
		sorted := make([]*store.Resource, len(matched))
		for i, j := range order {
			sorted[i] = matched[j]
		}
		matched = sorted
	}
	total := len(matched)
	from := min(q.startIndex-1, total)
	to := min(from+q.count, total)
	return s.writeList(c, k, q, total, matched[from:to])
}

// writeList answers a list query with its page rs of total results. The
// JSON is written as listResponse's would be, each resource rendered as
// view renders it; users stored from an IdP's document are spliced from
// their stored JSON (appendUser) instead of decoded, projected and
// encoded again: the bulk of a page's cost.
func (s *Server) writeList(c echo.Context, k *kind, q query, total int, rs []*store.Resource) error {
	if err := s.prefetchGroups(c, k, rs, q.proj); err != nil {
		return err
	}
	out := make([]byte, 0, 256+len(rs)*1024)
	out = append(out, `{"Resources":[`...)
	for i, r := range rs {
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		if renderedAsStored(k, r, q.proj) {
			out, err = s.appendUser(out, c, r)
		} else {
			var v map[string]any
			if v, err = s.view(c, k, r, q.proj); err == nil {
				out, err = jsondoc.Append(out, v)
			}
		}
		if err != nil {
			return fmt.Errorf("render %s %s: %w", k.store, r.ID, err)
		}
	}
	out = append(out, `],"itemsPerPage":`...)
	out = strconv.AppendInt(out, int64(len(rs)), 10)
	out = append(out, `,"schemas":["`+schemaListResponse+`"],"startIndex":`...)
	out = strconv.AppendInt(out, int64(q.startIndex), 10)
	out = append(out, `,"totalResults":`...)
	out = strconv.AppendInt(out, int64(total), 10)
	out = append(out, '}')
	return c.Blob(http.StatusOK, mediaSCIM+"; charset=utf-8", out)
}

// matching returns the resources a query's filter selects (all of them
// without a filter), with their documents, in id order. The documents are
// nil when the query does not sort and an index answered the filter
// exactly (scim.Filter.Exact).
func (s *Server) matching(c echo.Context, k *kind, q query) ([]*store.Resource, []map[string]any, error) {
	ctx := c.Request().Context()
	var f *scim.Filter
	if q.filter != "" {
		var err error
		if f, err = scim.Compile(q.filter, k.rt); err != nil {
			return nil, nil, err
		}
	}
	var out []*store.Resource
	var docs []map[string]any
	consider := func(r *store.Resource) error {
		doc, err := s.document(c, k, r)
		if err != nil {
			return err
		}
		if f != nil {
			ok, err := f.MatchWith(doc, s.hooks(c, k, r.ID))
			if err != nil {
				return fmt.Errorf("evaluate filter: %w", err)
			}
			if !ok {
				return nil
			}
		}
		out = append(out, r)
		docs = append(docs, doc)
		return nil
	}
	if f != nil && q.sortBy == "" {
		// The index answers the filter exactly: no document to decode
		// and match (documents are only needed to sort).
		if key, ok := f.Exact(); ok {
			if _, indexed := k.storeIndex(key.Name); indexed || key.Name == "id" {
				rs, err := s.candidates(c, k, key)
				if err != nil {
					return nil, nil, err
				}
				return rs, make([]map[string]any, len(rs)), nil
			}
		}
	}
	if f != nil {
		if key, ok := s.bestKey(k, f.Plan()); ok {
			rs, err := s.candidates(c, k, key)
			if err != nil {
				return nil, nil, err
			}
			for _, r := range rs {
				if err := consider(r); err != nil {
					return nil, nil, err
				}
			}
			return out, docs, nil
		}
	}
	for offset := 0; ; offset += scanBatch {
		page, err := s.opts.Store.List(ctx, k.store, offset, scanBatch)
		if err != nil {
			return nil, nil, fmt.Errorf("scan %s: %w", k.store, err)
		}
		for _, r := range page.Resources {
			if err := consider(r); err != nil {
				return nil, nil, err
			}
		}
		if len(page.Resources) < scanBatch {
			return out, docs, nil
		}
	}
}

// bestKey picks the plan key to fetch candidates with: any of them finds
// every match. Keys of unique indexes (and id) come first: they name at
// most one resource; an email may be shared by several users.
func (s *Server) bestKey(k *kind, plan []scim.IndexKey) (scim.IndexKey, bool) {
	var shared *scim.IndexKey
	for i, key := range plan {
		if key.Name == "id" {
			return key, true
		}
		ix, ok := k.storeIndex(key.Name)
		if !ok {
			continue
		}
		if store.Unique(ix) {
			return key, true
		}
		if shared == nil {
			shared = &plan[i]
		}
	}
	if shared != nil {
		return *shared, true
	}
	return scim.IndexKey{}, false
}

// candidates fetches the resources an index key names, in id order.
func (s *Server) candidates(c echo.Context, k *kind, key scim.IndexKey) ([]*store.Resource, error) {
	ctx := c.Request().Context()
	if key.Name == "id" {
		r, err := s.opts.Store.Get(ctx, k.store, key.Value)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", key.Value, err)
		}
		return []*store.Resource{r}, nil
	}
	ix, _ := k.storeIndex(key.Name)
	rs, err := s.opts.Store.LookupAll(ctx, k.store, ix, key.Value, 0)
	if err != nil {
		return nil, fmt.Errorf("index lookup %s: %w", key.Name, err)
	}
	return rs, nil
}

// hooks answer membership filters on a group from its member set.
func (s *Server) hooks(c echo.Context, k *kind, id string) scim.Hooks {
	if k != groupKind {
		return scim.Hooks{}
	}
	ctx := c.Request().Context()
	return scim.Hooks{
		IsMember: func(member string) (bool, error) { return s.opts.Store.IsMember(ctx, id, member) },
		Members:  func() ([]string, error) { return s.opts.Store.Members(ctx, id) },
	}
}
