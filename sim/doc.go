// Package sim runs flows without a server: the terminal simulator behind
// `parley simulate`, mocked webhook answers (--mocks), and scripted
// conversations (`parley test`, the examples' tests).
//
// Main types: Simulator (one session driven line by line), Mocks (a
// flows.WebhookService answering from a file, falling back to a real service
// when given one), Script (a scripted-conversation file), RunScript and
// RunScriptWith (with configured webhooks from outside the script).
package sim
