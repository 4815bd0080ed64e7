package callout

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"code.dny.dev/ssrf"
)

// ErrBlocked is wrapped by the error a call gets when the address guard
// refuses the address it was about to dial.
var ErrBlocked = errors.New("destination refused by the address guard")

// blockedError carries the refused address and the guard's reason.
type blockedError struct {
	addr   string
	reason error
	// allowable: --allow-cidr would let the address through.
	allowable bool
}

func (e *blockedError) Error() string {
	if !e.allowable {
		return fmt.Sprintf("%s: %s (%v)", ErrBlocked, e.addr, e.reason)
	}
	return fmt.Sprintf("%s: %s (%v); it can be allowed with --allow-cidr (or PARLEY_ALLOW_CIDRS)", ErrBlocked, e.addr, e.reason)
}

func (e *blockedError) Unwrap() []error { return []error{ErrBlocked, e.reason} }

// Guard decides which addresses webhooks may dial. It runs as the dialer's
// Control function, so it sees the address after DNS resolution and on every
// connection, redirects included: a name that resolves to a private address is
// refused however it was spelled.
type Guard struct {
	allow []netip.Prefix
	ssrf  *ssrf.Guardian
	own   atomic.Pointer[ownAddrs]
}

// ownAddrs are the addresses of the server the guard's calls are made for.
type ownAddrs struct {
	listen []netip.AddrPort
	// local are the machine's addresses, for a listen address that is
	// unspecified (0.0.0.0, ::): such a server is reached on any of them.
	local []netip.Addr
}

// errOwnAddr is the reason a call to the server's own address is refused.
var errOwnAddr = errors.New("it is this server's own listen address, which webhooks and event deliveries may not call whatever --allow-cidr allows")

// NewGuard returns a guard that refuses private, loopback, link-local,
// multicast and other special-purpose addresses (IPv4 and IPv6) except those in
// allow. Any port is permitted: webhook receivers often listen on 8080 or 8443.
func NewGuard(allow []netip.Prefix) *Guard {
	return &Guard{allow: allow, ssrf: ssrf.New(ssrf.WithAnyPort())}
}

// RefuseOwn makes the guard refuse the addresses a server listens on, also
// when --allow-cidr allows them: a flow must not reach the server that runs
// it, whose /v1 answers it without a key when the server has none. A listen
// address that is unspecified (0.0.0.0, ::) stands for that port on every
// loopback and interface address of the machine. Safe to call while calls
// are made.
func (g *Guard) RefuseOwn(listen ...netip.AddrPort) {
	o := &ownAddrs{listen: listen}
	for _, ap := range listen {
		if ap.Addr().IsUnspecified() {
			addrs, _ := net.InterfaceAddrs()
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(n.IP); ok {
						o.local = append(o.local, ip.Unmap())
					}
				}
			}
			break
		}
	}
	g.own.Store(o)
}

// isOwn reports whether ap is one of the addresses given to RefuseOwn.
func (g *Guard) isOwn(ap netip.AddrPort) bool {
	o := g.own.Load()
	if o == nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, l := range o.listen {
		if l.Port() != ap.Port() {
			continue
		}
		if l.Addr().Unmap() == ip {
			return true
		}
		if l.Addr().IsUnspecified() && (ip.IsLoopback() || ip.IsUnspecified() || slices.Contains(o.local, ip)) {
			return true
		}
	}
	return false
}

// CheckAddr reports whether ip may be dialled: nil, or an error wrapping ErrBlocked.
func (g *Guard) CheckAddr(ip netip.Addr) error {
	// An IPv4-mapped IPv6 address reaches the IPv4 host, so the allowlist is
	// checked against both spellings. The deny check below sees the mapped form,
	// which ssrf refuses as outside the IPv6 global unicast range.
	for _, p := range g.allow {
		if p.Contains(ip) || p.Contains(ip.Unmap()) {
			return nil
		}
	}
	if err := g.ssrf.SafeAddr(ip); err != nil {
		return &blockedError{addr: ip.String(), reason: err, allowable: true}
	}
	return nil
}

// Control is a net.Dialer Control function applying the guard.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return &blockedError{addr: address, reason: fmt.Errorf("network %s is not permitted", network)}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &blockedError{addr: address, reason: err}
	}
	if g.isOwn(ap) {
		return &blockedError{addr: address, reason: errOwnAddr}
	}
	return g.CheckAddr(ap.Addr())
}

// ParseAllowCIDRs reads the destinations allowed despite the guard: the
// --allow-cidr flag values or, when no flag is given, PARLEY_ALLOW_CIDRS
// (flags replace the variable, as with `parley serve`). Each may hold
// several comma-separated entries (ParseAllowCIDR).
func ParseAllowCIDRs(flagValues []string, env string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	parse := func(source, list string) error {
		for _, s := range strings.Split(list, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := ParseAllowCIDR(s)
			if err != nil {
				return fmt.Errorf("%s: %w", source, err)
			}
			out = append(out, p)
		}
		return nil
	}
	for _, v := range flagValues {
		if err := parse("--allow-cidr", v); err != nil {
			return nil, err
		}
	}
	if len(flagValues) > 0 {
		return out, nil
	}
	if err := parse("PARLEY_ALLOW_CIDRS", env); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseAllowCIDR reads one allowed destination: a CIDR, or a bare address
// meaning that one host (/32 or /128).
func ParseAllowCIDR(s string) (netip.Prefix, error) {
	p, err := parsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8, fd00::/8) nor an IP address", s)
	}
	return p, nil
}

// parsePrefix reads a CIDR or a bare address. An IPv4-mapped IPv6 entry
// (::ffff:10.0.0.1, ::ffff:10.0.0.0/104) is kept in its IPv4 form: the guard
// compares the dialled address in both forms, but an IPv4 address is never
// inside a prefix written in the mapped form.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		p = p.Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
