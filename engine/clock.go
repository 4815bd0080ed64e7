package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/expr-lang/expr/ast"
)

// Expressions read the time from the turn, never from the machine's clock, so
// that a flow says the same thing under a fixed clock (WithClock: parley test,
// the simulator) every day. now is the turn's time as a value (now.Year(),
// now > date("2020-01-01")), now() is the same time, and today() its date.
// expr-lang's own now() reads the machine's clock and is turned off; its name
// would also make the variable now a function when an expression is compiled.

// nowFunction is what now() calls (see clockCalls), under a name no author
// can write, so that the name now stays the variable.
const nowFunction = "now()"

// dateFormatVar is the variable, under a name no author can write, holding
// the date format of the turn's flow (turn.DateFormat).
const dateFormatVar = "date_format()"

// turnTimeVar is the turn's time under a name no author can write, which
// clockCalls hands to the functions that tell the time: the variable now is
// the same time, but an expression may shadow it (let now = 1).
const turnTimeVar = "turn_time()"

// dateFunctions read dates as the flow's date rules do (rules.FindDate):
// clockCalls gives them the turn's time and date format.
var dateFunctions = map[string]bool{
	"datevalue": true, "edate": true, "legacy_add": true, "legacy_sub": true,
	"legacy_date_part": true, "legacy_datedif": true,
}

// clockCalls passes the turn's time to the functions that tell the time:
// now(...) becomes a call of nowFunction and today(...) one of today, each
// with the turn's time (turnTimeVar) before its own arguments. The date
// functions get turnTimeVar and dateFormatVar before theirs.
type clockCalls struct{}

func (clockCalls) Visit(node *ast.Node) {
	c, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if dateFunctions[id.Value] {
		args := append([]ast.Node{&ast.IdentifierNode{Value: turnTimeVar}, &ast.IdentifierNode{Value: dateFormatVar}}, c.Arguments...)
		ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: id.Value}, Arguments: args})
		return
	}
	if id.Value != "now" && id.Value != "today" {
		return
	}
	name := id.Value
	if name == "now" {
		name = nowFunction
	}
	args := append([]ast.Node{&ast.IdentifierNode{Value: turnTimeVar}}, c.Arguments...)
	ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: args})
}

// clockArity is what is wrong with a call of name with n arguments, when
// name is now and n is not what it takes, or "". (today is in arities.)
func clockArity(name string, n int) string {
	if name == "now" && n > 1 {
		return fmt.Sprintf("now() takes no argument or a time zone (now(timezone(%q))), got %d", "Europe/Paris", n)
	}
	return ""
}

// turnTime is the first argument clockCalls gives: the turn's time.
func turnTime(name string, p []any) (time.Time, []any, error) {
	if len(p) > 0 {
		if t, ok := p[0].(time.Time); ok {
			return t, p[1:], nil
		}
	}
	return time.Time{}, nil, fmt.Errorf("%s(): the time of the turn is not known", name)
}

// dateReader reads dates as the turn's date rules do.
type dateReader struct {
	now    time.Time
	format string
}

// turnDates is the turn's time and date format, which clockCalls passes
// first to the date functions, and their own arguments.
func turnDates(name string, p []any) (dateReader, []any, error) {
	if len(p) > 1 {
		t, ok1 := p[0].(time.Time)
		f, ok2 := p[1].(string)
		if ok1 && ok2 {
			return dateReader{now: t, format: f}, p[2:], nil
		}
	}
	return dateReader{}, nil, fmt.Errorf("%s(): the time and date format of the turn are not known", name)
}

// now(), or now(timezone("Europe/Paris")): the turn's time, in that zone.
func clockNow(p ...any) (any, error) {
	t, args, err := turnTime("now", p)
	if err != nil {
		return nil, err
	}
	switch len(args) {
	case 0:
		return t, nil
	case 1:
		if loc, ok := args[0].(*time.Location); ok {
			return t.In(loc), nil
		}
		return nil, fmt.Errorf("now(zone): %s is not a time zone: write now(timezone(%q))", argText(args[0]), "Europe/Paris")
	}
	return nil, errors.New(clockArity("now", len(args)))
}

// today(): the date of the turn's time (UTC) as YYYY-MM-DD.
func clockToday(p ...any) (any, error) {
	t, args, err := turnTime("today", p)
	if err != nil {
		return nil, err
	}
	if msg := arities["today"].check(len(args)); msg != "" {
		return nil, errors.New(msg)
	}
	return t.UTC().Format("2006-01-02"), nil
}
