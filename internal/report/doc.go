// Package report owns the report log's query language and its renderings,
// everything about reports that is not HTTP: the SCIM resource type that
// filters over entries are compiled against, the parsing of the query
// parameters that GET /admin/reports and `scim-gateway report` share
// (Parse) and the paged, budgeted query they both run (Request.Run), the
// page type the admin API encodes and the CLI decodes, the CSV rendering,
// and the retention loop that prunes the log. The gateway serves it over
// HTTP; the CLI runs it against a store directly or reads the gateway's
// pages. Errors a client can fix are *scim.Error values (400 invalidValue
// or invalidFilter), so the gateway's error handler renders them as it
// renders every other SCIM error.
package report
