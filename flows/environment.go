package flows

import (
	"fmt"
	"strings"
)

// Date formats an environment may read dates in: the order people write day,
// month and year ("03/04/2026" is 3 April day first, 4 March month first).
const (
	DateFormatDayMonthYear = "DD-MM-YYYY"
	DateFormatMonthDayYear = "MM-DD-YYYY"
	DateFormatYearMonthDay = "YYYY-MM-DD"
)

// Environment says how a flow reads what people type, as a RapidPro
// workspace does: the country of phone numbers written without a country
// code (has_phone without an argument) and the order of day, month and year
// in dates (the has_date rules). Empty fields take the engine's defaults
// (engine.WithEnvironment; no country and day first unless set).
type Environment struct {
	// DefaultCountry is an ISO 3166-1 alpha-2 code ("US"), upper case.
	DefaultCountry string `json:"default_country,omitempty"`
	// DateFormat is one of the DateFormat constants.
	DateFormat string `json:"date_format,omitempty"`
}

// Check reports the fields that are not valid, with paths under prefix
// ("environment"). A lower-case country is upper-cased in place.
func (e *Environment) Check(prefix string) []*FieldError {
	if e == nil {
		return nil
	}
	var errs []*FieldError
	if e.DefaultCountry != "" {
		c := strings.ToUpper(e.DefaultCountry)
		if !KnownCountry(c) {
			errs = append(errs, &FieldError{Path: prefix + ".default_country",
				Message: fmt.Sprintf("unknown country %q (an ISO 3166-1 alpha-2 code such as \"US\" or \"BR\")", e.DefaultCountry)})
		} else {
			e.DefaultCountry = c
		}
	}
	switch e.DateFormat {
	case "", DateFormatDayMonthYear, DateFormatMonthDayYear, DateFormatYearMonthDay:
	default:
		errs = append(errs, &FieldError{Path: prefix + ".date_format",
			Message: fmt.Sprintf("unknown date format %q (%s, %s or %s)", e.DateFormat, DateFormatDayMonthYear, DateFormatMonthDayYear, DateFormatYearMonthDay)})
	}
	return errs
}
