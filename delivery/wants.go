package delivery

// Wants reports whether an event of type typ, environment and flow would go
// to any subscription as they are now. The server asks before writing a
// lifecycle event to the outbox: an event that nothing subscribes to would be
// dropped at fan-out, so it is not built or stored at all. Disabled
// subscriptions count: their deliveries are recorded, not sent, for a later
// recover. A subscription created after an event happened does not receive
// it, either way.
func (s *Service) Wants(typ, environment, flowID string) bool {
	ev := Event{Type: typ, Environment: environment, FlowID: flowID}
	s.subMu.RLock()
	defer s.subMu.RUnlock()
	for _, sub := range s.subs {
		if sub.matches(&ev) {
			return true
		}
	}
	return false
}
