package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/scimgate/scim-gateway/internal/store"
)

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"time", "user", "app", "operation", "status", "httpStatus", "resourceType",
	"resourceId", "detail", "changes", "attempt", "requestId", "runId", "id"}

// WriteCSV writes entries as CSV with a header row; changes are flattened
// by FormatChanges. A text cell that a spreadsheet would read as a formula
// (starting with = + - @ or a tab or CR) is prefixed with a quote, as
// OWASP advises, since user names and details come from outside.
func WriteCSV(w io.Writer, entries []store.ReportEntry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	for i := range entries {
		e := &entries[i]
		row := []string{
			e.Time.UTC().Format(time.RFC3339Nano), csvCell(e.User), csvCell(e.App), csvCell(e.Operation), csvCell(e.Status),
			num(e.HTTPStatus), csvCell(e.ResourceType), csvCell(e.ResourceID), csvCell(e.Detail), csvCell(FormatChanges(e.Changes)),
			num(e.Attempt), csvCell(e.RequestID), csvCell(e.RunID), csvCell(e.ID),
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write report csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	return nil
}

func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// FormatChanges renders attribute changes as "attr: old → new; …", with
// "(none)" for an absent value and JSON for anything but a string.
func FormatChanges(cs []store.AttrChange) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Attr)
		b.WriteString(": ")
		b.WriteString(changeValue(c.Old))
		b.WriteString(" → ")
		b.WriteString(changeValue(c.New))
	}
	return b.String()
}

func changeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
