// Package rapidpro imports RapidPro and TextIt legacy flow exports (flow
// versions 7 to 11.12: action_sets and rule_sets) as Parley flows that run as
// they ran in RapidPro.
//
// Convert reads an export and returns one Parley flow document per flow with a
// Report. Every construct that could not be translated, or that runs
// differently, has a report line naming the flow, the action or ruleset uuid
// and the field. A flow that cannot run as it did in RapidPro (a location rule,
// an airtime transfer, a wait for a photo) fails with an error line; one that
// runs with a noted difference (an e-mail recorded rather than sent) converts
// with a warning line.
//
// Templates and @(...) expressions are translated into Parley's: @flow.x,
// @step.value, @contact.x, @extra.x keep their meaning, and RapidPro's
// spreadsheet functions become expr-lang calls, some of them to functions
// registered by engine/functions_rapidpro.go.
//
// An export older than RapidPro's last legacy version (11.12) is first
// migrated as RapidPro migrates it on import, where that changes what the
// flow does (migrate.go): version 7 templates, @extra.flow, @flow.X.text of a
// split, a webhook result's answer, webhook actions' result names and flows
// of another kind; each change is an info line of the report.
//
// Every converted flow is loaded with the engine and the full widget registry
// before it is returned, so a flow the report does not fail is one Parley can
// run. docs/rapidpro.md lists what maps to what.
package rapidpro
