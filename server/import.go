package server

import (
	"fmt"

	"github.com/parleyhq/parley/rapidpro"
)

// rapidProDemoURLs point RapidPro's demo order service at the built-in one,
// so imported sample flows run unchanged. The local demo answers on any
// loopback port.
var rapidProDemoURLs = map[string]string{
	"https://textit.in/demo/status":       "http://127.0.0.1:8080/demo/order-status",
	"https://app.rapidpro.io/demo/status": "http://127.0.0.1:8080/demo/order-status",
	"https://rapidpro.io/demo/status":     "http://127.0.0.1:8080/demo/order-status",
	"https://textit.com/demo/status":      "http://127.0.0.1:8080/demo/order-status",
	"https://app.textit.com/demo/status":  "http://127.0.0.1:8080/demo/order-status",
}

// RapidProImporter imports RapidPro/TextIt legacy flow exports on POST /v1/flows.
type RapidProImporter struct {
	// Options are passed to rapidpro.Convert; RewriteURLs defaults to
	// pointing RapidPro's demo order service at this server's.
	Options rapidpro.Options
}

// Detect reports whether data is a RapidPro export: a legacy one, or a
// new-format one, which Convert refuses flow by flow saying so.
func (RapidProImporter) Detect(data []byte) bool {
	return rapidpro.IsExport(data) || rapidpro.IsNewFormat(data)
}

// Convert converts every flow of the export; flows that fail are left out
// and named in the report.
func (r RapidProImporter) Convert(data []byte) (*Imported, error) {
	res, err := r.ConvertExport(data)
	if err != nil {
		return nil, err
	}
	lines := res.Report.Lines
	if lines == nil {
		lines = []rapidpro.ReportLine{}
	}
	out := &Imported{Report: lines}
	for _, l := range res.Report.Lines {
		if l.Level == "error" {
			msg := fmt.Sprintf("flow %q did not import: ", l.Flow)
			if l.Where != "" {
				msg += l.Where + ": "
			}
			out.Failed = append(out.Failed, msg+l.Message)
		}
	}
	for _, f := range res.Flows {
		if !f.Failed && f.JSON != nil {
			out.Flows = append(out.Flows, f.JSON)
		}
	}
	return out, nil
}

// ConvertExport converts every flow of the export as Convert does, and
// returns rapidpro.Convert's result: each flow with its uuid, and the
// errors of those that did not import.
func (r RapidProImporter) ConvertExport(data []byte) (*rapidpro.Result, error) {
	o := r.Options
	if o.RewriteURLs == nil {
		o.RewriteURLs = rapidProDemoURLs
	}
	return rapidpro.Convert(data, o)
}

// reportOf is an import's report as answers carry it: a list, empty when
// the importer has nothing to say.
func reportOf(res *Imported) any {
	if res.Report == nil {
		return []any{}
	}
	return res.Report
}
