// Package rapidpro imports RapidPro/TextIt legacy flow exports.
package rapidpro

import "errors"

// Options for Convert.
type Options struct {
	Lang        string
	RewriteURLs map[string]string
}

// Result of a conversion.
type Result struct {
	Flows  []Flow
	Report Report
}

// Flow is one converted flow.
type Flow struct {
	ID, Name string
	JSON     []byte
	Failed   bool
}

// Report lists what the conversion found.
type Report struct{ Lines []ReportLine }

// ReportLine is one finding.
type ReportLine struct{ Flow, Where, Level, Message string }

func (l ReportLine) String() string { return l.Flow + " " + l.Where + ": " + l.Message }

func (r Report) String() string { return "" }

// IsExport reports whether data is a RapidPro export.
func IsExport(data []byte) bool { return false }

// Convert converts an export.
func Convert(data []byte, o Options) (*Result, error) { return nil, errors.New("not available") }
