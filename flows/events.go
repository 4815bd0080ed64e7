package flows

import (
	"encoding/json"
	"time"
)

// Event types a turn produces.
const (
	EventMessageIn      = "message_in"
	EventMessageOut     = "message_out"
	EventSay            = "say"
	EventPlay           = "play"
	EventGather         = "gather"
	EventRecord         = "record"
	EventHangup         = "hangup"
	EventResultSaved    = "result_saved"
	EventVariableSet    = "variable_set"
	EventRuleMatched    = "rule_matched"
	EventWebhookCalled  = "webhook_called"
	EventFlowEntered    = "flow_entered"
	EventSessionWaiting = "session_waiting"
	EventFlowCompleted  = "flow_completed"
	EventSessionEnded   = "session_ended"
	EventRecorded       = "action_recorded"
	EventWarning        = "warning"
	EventError          = "error"
)

// Event is one thing a turn did. It is a flat record: each type fills the fields
// that apply to it and the rest are omitted from its JSON.
type Event struct {
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	Widget string    `json:"widget,omitempty"`
	Flow   string    `json:"flow,omitempty"`

	// Messages and prompts.
	Text         string   `json:"text,omitempty"`
	QuickReplies []string `json:"quick_replies,omitempty"`
	Attachments  []string `json:"attachments,omitempty"`
	URL          string   `json:"url,omitempty"`
	NumDigits    int      `json:"num_digits,omitempty"`
	FinishKey    string   `json:"finish_key,omitempty"`
	Timeout      int      `json:"timeout,omitempty"`
	WaitKind     string   `json:"wait,omitempty"`
	// MaxLength and PlayBeep of a record prompt (record_voice): the
	// longest recording, in seconds, and whether a beep starts it.
	MaxLength int   `json:"max_length,omitempty"`
	PlayBeep  *bool `json:"play_beep,omitempty"`
	// Voice and Language of a say prompt (text-to-speech).
	Voice    string `json:"voice,omitempty"`
	Language string `json:"language,omitempty"`

	// Results, variables and rule matches.
	Name     string `json:"name,omitempty"`
	Value    string `json:"value,omitempty"`
	Category string `json:"category,omitempty"`
	Input    string `json:"input,omitempty"`
	Scope    string `json:"scope,omitempty"`
	Exit     string `json:"exit,omitempty"`

	// Webhook calls.
	Method    string        `json:"method,omitempty"`
	Status    int           `json:"status,omitempty"`
	ElapsedMS int64         `json:"elapsed_ms,omitempty"`
	Outcome   string        `json:"outcome,omitempty"`
	Attempts  int           `json:"attempts,omitempty"`
	Request   *HTTPTrace    `json:"request,omitempty"`
	Response  *HTTPTrace    `json:"response,omitempty"`
	Calls     []WebhookCall `json:"calls,omitempty"`

	// Session end.
	SessionStatus Status `json:"session_status,omitempty"`

	// Warnings and errors.
	Message string `json:"message,omitempty"`

	// Data carries anything else (e.g. a recorded email action).
	Data json.RawMessage `json:"data,omitempty"`
}

// HTTPTrace is a request or response as recorded in events, secrets redacted.
type HTTPTrace struct {
	Method  string            `json:"method,omitempty"`
	URL     string            `json:"url,omitempty"`
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Truncated is set when Body was cut at the size limit.
	Truncated bool `json:"truncated,omitempty"`
}
