// Package store is Parley's persistence: flows with their revision history,
// sessions with their event logs, contacts, the indexes that route inbound
// messages and fire timers, the transactional outbox of lifecycle events,
// inbound-message dedupe records, the calls an erasure of their contact
// ended (CallErased), and the server's configuration records.
//
// Store is the interface the server, engine and delivery dispatcher use; Bolt
// implements it on one go.etcd.io/bbolt file. docs/storage.md describes every
// bucket, its key and value layout, and why.
//
// The main operations:
//   - SaveTurn writes everything one turn produced (session, events, outbox
//     records, contact, dedupe record) in one transaction and keeps the
//     waiting index and timers consistent with the session's status, wait
//     timeout and expiry. Concurrent calls are grouped into one commit, so one
//     fsync covers many turns and durable throughput grows with concurrency.
//   - LoadSession, ListSessions, WaitingSession, SessionEvents, DueTimers read.
//   - Outbox, AckOutbox and OutboxDepth are the dispatcher's side of the outbox.
//   - Backup (or Snapshot, Copy and Close) writes a consistent copy of the
//     whole file in one read transaction while writes go on; Verify checks
//     such a copy.
//
// Caveats:
//   - Sessions are stored as S2-compressed JSON (with an embedded
//     dictionary) behind a small binary header (Options.Uncompressed stores
//     plain JSON); records written with zstd by earlier versions stay
//     readable. The header carries what index maintenance needs, so a save
//     never decodes the previous version.
//   - Open reads the layout version and creates missing buckets; Stats reads
//     counters kept on every write. Neither grows with the number of
//     sessions. A file of an older layout is migrated by Open before it
//     returns, in short transactions that a later Open resumes.
//   - Package delivery keeps two counters in the stats bucket in its own
//     transactions (AddCounter, ReadCounter): the outbox's records and the
//     keys of its due index (DueBucket). Open counts both once in a file
//     that has none (EnsureDeliveryCounters, layout 7 and before).
//   - Ids may not be empty, contain a NUL byte, or exceed 512 bytes: NUL
//     separates the parts of composite keys. Canonical UUID session ids are
//     stored in 16 bytes.
//   - A read transaction keeps bbolt from remapping a growing file, and
//     commits wait for the remap: a backup's long one would stall them.
//     Servers open the store with ServingMmapSize, a map with room for the
//     file to double; a copy during which the file outgrows it still waits.
//   - The session JSON is whatever flows.Session marshals to; a change there
//     that is not backward compatible needs a migration here.
package store
