// Package delivery sends Parley's lifecycle events (session.*, flow.completed,
// webhook.ping, endpoint.disabled) to subscribed HTTP endpoints, signed the
// Standard Webhooks way and retried until they succeed or the schedule runs out.
//
// The main types:
//   - Service: subscriptions (Create, Get, List, Update, Delete, RotateSecret,
//     Ping, Test), the dispatcher (Start, Notify, Wait) and the deliveries log
//     (ListDeliveries, GetDelivery, Attempts, Retry, Recover, Health, Stats).
//   - Subscription, Secret: an endpoint, its filters and signing secrets.
//   - Event (an outbox record), Envelope (the body sent), Delivery, Attempt.
//   - Sign and Verify: Standard Webhooks signatures, for senders and receivers.
//
// How it flows: the store commits a session change together with an Event in
// the "outbox" bucket. The dispatcher, woken by Notify or its poll interval,
// turns each outbox record into one Delivery per matching subscription
// created at or before the event's time, and
// deletes the record in the same transaction; a disabled subscription's
// delivery is recorded as disabled and never scheduled, for Recover to send
// once it is enabled again. Due deliveries (index dl_due,
// keyed by endpoint, then next-attempt time) are queued per endpoint, sent by at most
// Options.PerEndpoint workers per endpoint, and their results recorded in
// batched transactions. One writer goroutine runs both the fan-out and the
// recording, in the same transactions, so delivery takes bbolt's single
// writer lock as seldom as it can. No network call happens inside a
// transaction.
//
// The keys of dl_due and of the outbox are counted in the store's stats
// bucket (store.CounterPendingDeliveries, store.CounterOutbox) by the
// transactions that add and remove them, so that the gauges
// parley_webhook_pending_deliveries and parley_webhook_outbox_depth, and
// Stats, read one key whatever the backlog. Every write of dl_due goes
// through putDue and deleteDueKey, which keep the count; EnqueueTx and the
// fan-out keep the outbox's.
//
// Disabling or deleting an endpoint commits in one small transaction, which
// stops its sending at once; its pending deliveries are then ended in
// transactions of BatchSize (endPending), so that a backlog of any size never
// makes one long transaction, and what a stop left is ended at the next start.
//
// Delivery is at least once: a result lost in a crash or shutdown leaves the
// delivery due, so it is sent again with the same webhook-id, which receivers
// use to drop duplicates.
//
// Caveats: one Service owns the delivery buckets of a database; run one per
// *bbolt.DB. Subscriptions are cached in memory, so change them only through
// the Service. Destinations go through callout's address guard, and OAuth
// 2.0 tokens through callout's token cache (form or JSON token requests),
// so event delivery and the webhook widget reach the network the same way.
package delivery
