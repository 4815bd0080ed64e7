package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/parleyhq/parley/flows"
)

// Sentinel errors. Returned errors wrap them and name the id involved, so
// callers test with errors.Is and show the message as is.
var (
	// ErrNotFound: no flow, revision, session, contact or record with that id.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write would break an invariant, e.g. a second session
	// waiting for the same contact on the same channel, or a session that
	// changed since it was loaded (Turn.PrevUpdated).
	ErrConflict = errors.New("conflict")
	// ErrDuplicate: the inbound message of a turn was already processed; the
	// stored reply is available from ProcessedReply.
	ErrDuplicate = errors.New("message already processed")
	// ErrInvalid: an argument is malformed (empty id, invalid JSON, ...).
	ErrInvalid = errors.New("invalid")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)

// Store is Parley's persistence. Bolt is the embedded implementation; the
// interface exists so the server and engine can be tested against it and so
// another backend can be added without touching them.
type Store interface {
	FlowStore
	SessionStore
	OutboxStore
	ConfigStore
	// Seed fills an empty store with flows (each published at revision 1)
	// and configuration records in one transaction: all or nothing. The
	// same transaction records that the store was seeded.
	Seed(ctx context.Context, fs []NewFlow, config []SeedConfig) error
	// Seeded reports whether the store was ever seeded (by Seed, or, for a
	// store from before Seed recorded it, whether it holds flows or channels).
	Seeded(ctx context.Context) (bool, error)
	// Stats returns counters kept on every write; it never scans.
	Stats(ctx context.Context) (Stats, error)
	// Close waits for pending writes and closes the store.
	Close() error
}

// FlowStore keeps flow definitions with their full revision history.
type FlowStore interface {
	// SaveFlow stores a new revision of a flow (revision 1 creates the flow).
	SaveFlow(ctx context.Context, f NewFlow) (*FlowRevision, error)
	// SaveFlows stores a new revision of each flow in one transaction: all
	// or none.
	SaveFlows(ctx context.Context, fs []NewFlow) ([]*FlowRevision, error)
	// GetFlow returns a revision of a flow; rev 0 is the latest.
	GetFlow(ctx context.Context, id string, rev int) (*FlowRevision, error)
	// PublishedFlow returns the published revision of a flow.
	PublishedFlow(ctx context.Context, id string) (*FlowRevision, error)
	// FlowRevisions lists a flow's revisions, oldest first, without their JSON.
	FlowRevisions(ctx context.Context, id string) ([]*FlowRevision, error)
	// ListFlows lists every flow, ordered by id.
	ListFlows(ctx context.Context) ([]*FlowInfo, error)
	// Publish makes a revision (0: the latest) the published one.
	Publish(ctx context.Context, id string, rev int) (*FlowInfo, error)
	// DeleteFlow removes a flow and all its revisions at once.
	DeleteFlow(ctx context.Context, id string) error
}

// SessionStore keeps sessions, their indexes, event logs and contacts.
type SessionStore interface {
	// SaveTurn writes everything a turn produced in one transaction.
	SaveTurn(ctx context.Context, t *Turn) error
	LoadSession(ctx context.Context, id string) (*flows.Session, error)
	// ListSessions returns one page of sessions ordered by id, and the cursor
	// of the next page ("" at the end).
	ListSessions(ctx context.Context, f SessionFilter, p Page) ([]*flows.Session, string, error)
	// WaitingSession returns the session waiting for urn on channel.
	WaitingSession(ctx context.Context, channel, urn string) (*flows.Session, error)
	// Inbound reads what an inbound message needs (its dedupe record, the
	// waiting session, the contact) in one read.
	Inbound(ctx context.Context, q InboundQuery) (*InboundState, error)
	// DeleteSession removes a session with its indexes, timers and events.
	DeleteSession(ctx context.Context, id string) error
	Contact(ctx context.Context, urn string) (*flows.Contact, error)
	// SessionEvents returns up to limit events with a sequence above after.
	SessionEvents(ctx context.Context, id string, after uint64, limit int) ([]EventRecord, error)
	// LastTurnEvents returns the events of a session's last turn that ended
	// waiting: those after the session_waiting before its last one, up to
	// and including that last one (none when it has never waited).
	LastTurnEvents(ctx context.Context, id string) ([]flows.Event, error)
	// DueTimers returns up to limit timers due at or before now, earliest first.
	DueTimers(ctx context.Context, now time.Time, limit int) ([]Timer, error)
	// RemoveTimer deletes one timer (for timers whose session is gone).
	RemoveTimer(ctx context.Context, t Timer) error
	// ProcessedReply returns the reply stored for an inbound message from
	// urn (the URN of its session's contact) on channel.
	ProcessedReply(ctx context.Context, channel, urn, messageID string) ([]byte, bool, error)
	// PruneProcessed deletes up to limit dedupe records stored before cutoff
	// and reports how many it deleted.
	PruneProcessed(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// PruneEnded deletes up to limit sessions that ended before cutoff, with
	// their events, and reports how many ended-session entries it took.
	PruneEnded(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// ContactKeys returns the contact keys (URNs) anything is stored under
	// that one of patterns spells and match accepts (every key match
	// accepts with nil patterns).
	ContactKeys(ctx context.Context, patterns []KeyPattern, match func(urn string) bool) ([]string, error)
	// EraseContact deletes everything stored under keys in one
	// transaction, after writing the turns that end the contact's sessions
	// that have not ended, and records calls, the calls those turns end.
	EraseContact(ctx context.Context, keys []string, ending []*Turn, calls []ErasedCall) (ContactErasure, error)
	// CallErased reports whether the call of session id was ended by an
	// erasure (EraseContact's calls) and could still be going on at now.
	CallErased(ctx context.Context, id string, now time.Time) (bool, error)
	// PruneErasedCalls deletes up to limit erased calls whose time is over
	// at now and reports how many it deleted.
	PruneErasedCalls(ctx context.Context, now time.Time, limit int) (int, error)
}

// OutboxStore is the transactional outbox of lifecycle events, read and
// acknowledged by the event delivery dispatcher.
type OutboxStore interface {
	// AppendOutbox adds records that are not tied to a session write.
	AppendOutbox(ctx context.Context, recs ...OutboxRecord) error
	// Outbox returns up to limit records with a sequence above afterSeq.
	Outbox(ctx context.Context, afterSeq uint64, limit int) ([]OutboxEntry, error)
	// AckOutbox deletes delivered (or abandoned) records.
	AckOutbox(ctx context.Context, seqs ...uint64) error
	// OutboxDepth is the number of records not yet acknowledged.
	OutboxDepth() (int, error)
}

// ConfigStore is keyed CRUD of raw JSON for configuration the server owns.
type ConfigStore interface {
	PutConfig(ctx context.Context, c Collection, id string, value json.RawMessage) error
	GetConfig(ctx context.Context, c Collection, id string) (json.RawMessage, error)
	ListConfig(ctx context.Context, c Collection) ([]ConfigRecord, error)
	DeleteConfig(ctx context.Context, c Collection, id string) error
}

// NewFlow is a flow definition to store as a new revision.
type NewFlow struct {
	ID   string
	Name string
	Kind string
	// Definition is the flow's JSON as submitted; it is stored verbatim.
	Definition json.RawMessage
}

// FlowRevision is one saved version of a flow.
type FlowRevision struct {
	ID         string          `json:"id"`
	Revision   int             `json:"revision"`
	Name       string          `json:"name"`
	Kind       string          `json:"kind,omitempty"`
	CreatedAt  time.Time       `json:"created"`
	Published  bool            `json:"published"`
	Definition json.RawMessage `json:"definition,omitempty"`
}

// FlowInfo summarises a flow: its latest and published revisions.
type FlowInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind,omitempty"`
	Latest    int       `json:"latest"`
	Published int       `json:"published,omitempty"`
	CreatedAt time.Time `json:"created"`
	UpdatedAt time.Time `json:"updated"`
}

// Turn is everything one turn of a session produced, written atomically.
type Turn struct {
	Session *flows.Session
	// Events are appended to the session's event log.
	Events []flows.Event
	// Outbox are lifecycle event records for webhook delivery. Records
	// without an ID or Timestamp get them filled in, in place.
	Outbox []OutboxRecord
	// Contact is upserted (by URN, under the sim: key of
	// flows.ContactKey when the session's SandboxContact is set) when
	// non-nil.
	Contact *flows.Contact
	// Channel, with Session.ContactKey(), keys the waiting index. Empty means
	// Session.Channel.ID, or (for the waiting index only) the channel of the
	// previous save. It also scopes MessageID. A call's session
	// (Session.Call set) is never in the waiting index: it is found by its id.
	Channel string
	// MessageID, when set, records the inbound message as processed with
	// Reply, so a retry of it gets the same answer. SaveTurn fails with
	// ErrDuplicate if it was already recorded.
	MessageID string
	Reply     []byte
	// PrevUpdated, when non-zero, must equal the stored session's UpdatedAt:
	// it catches two turns racing on the same session (ErrConflict).
	PrevUpdated time.Time
}

// SessionFilter narrows ListSessions; empty fields match everything.
type SessionFilter struct {
	Status  flows.Status
	FlowID  string
	Contact string // URN
	// ContactPrefix keeps the sessions whose contact's URN starts with it.
	// It is checked against a record's header, so the sessions of other
	// contacts are passed over without being decompressed.
	ContactPrefix string
}

// Page is a page request: After is the cursor returned by the previous page.
type Page struct {
	After string
	// Limit defaults to 50 and is capped at 1000.
	Limit int
}

// EventRecord is one entry of a session's event log.
type EventRecord struct {
	Seq   uint64      `json:"seq"`
	Event flows.Event `json:"event"`
}

// TimerKind says what a timer does when it fires.
type TimerKind uint8

// Timer kinds.
const (
	// TimerWaitTimeout resumes a waiting session with a timeout input.
	TimerWaitTimeout TimerKind = 1
	// TimerExpiry expires a session that received no input.
	TimerExpiry TimerKind = 2
)

// String names the kind for logs and metrics.
func (k TimerKind) String() string {
	switch k {
	case TimerWaitTimeout:
		return "wait_timeout"
	case TimerExpiry:
		return "expiry"
	}
	return "unknown"
}

// Timer is a scheduled wake-up of a session.
type Timer struct {
	At        time.Time
	SessionID string
	Kind      TimerKind
}

// OutboxRecord is a lifecycle event waiting for webhook delivery.
type OutboxRecord struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Timestamp   time.Time       `json:"timestamp"`
	Environment string          `json:"environment"`
	FlowID      string          `json:"flow,omitempty"`
	Data        json.RawMessage `json:"data"`
}

// OutboxEntry is an outbox record with its sequence number (the ack handle).
type OutboxEntry struct {
	Seq    uint64
	Record OutboxRecord
}

// Collection names a ConfigStore collection.
type Collection string

// Config collections.
const (
	Channels Collection = "channels"
	APIKeys  Collection = "api_keys"
	Webhooks Collection = "webhooks"
)

// ConfigRecord is one stored configuration value.
type ConfigRecord struct {
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Stats are counters maintained on every write.
type Stats struct {
	Sessions map[flows.Status]int64 `json:"sessions"`
	// Pruned counts, by final status, the ended sessions deleted by
	// PruneEnded (the session retention) since the store was created.
	Pruned map[flows.Status]int64 `json:"pruned"`
	// Deleted counts, by status, the sessions deleted otherwise: with
	// their contact (EraseContact) or by DeleteSession, since the store
	// was created. Sessions + Pruned + Deleted of a status never goes down.
	Deleted   map[flows.Status]int64 `json:"deleted"`
	Flows     int64                  `json:"flows"`
	Contacts  int64                  `json:"contacts"`
	Events    int64                  `json:"events"`
	Timers    int64                  `json:"timers"`
	Outbox    int64                  `json:"outbox"`
	Processed int64                  `json:"processed"`
	// FileBytes is the database size up to its highest used page (the file
	// itself may be pre-allocated beyond it).
	FileBytes int64 `json:"file_bytes"`
}
