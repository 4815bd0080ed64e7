package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/parleyhq/parley/store"
)

// APIKey is a key that may call /v1, optionally only from some networks.
type APIKey struct {
	// Name identifies the key in logs and listings.
	Name string
	// Key is the secret sent as "Authorization: Bearer KEY".
	Key string
	// Allow lists the networks the key may be used from; empty allows any.
	Allow []netip.Prefix
}

// ParseAPIKey reads "KEY" or "KEY@CIDR|CIDR...", the form of --api-key and of
// each comma-separated item of PARLEY_API_KEYS.
func ParseAPIKey(s string) (APIKey, error) {
	key, nets, hasNets := strings.Cut(strings.TrimSpace(s), "@")
	if len(key) < 16 {
		return APIKey{}, fmt.Errorf("api key %q...: too short (16 characters or more)", prefix(key))
	}
	k := APIKey{Key: key, Name: "key-" + prefix(key)}
	if hasNets {
		for _, n := range strings.Split(nets, "|") {
			p, err := parsePrefix(n)
			if err != nil {
				// As --allow-cidr and POST /v1/keys say it, not netip's
				// error ("ParseAddr(\"\"): unable to parse IP").
				return APIKey{}, fmt.Errorf("api key %s...: allowed network %q is neither a CIDR (10.0.0.0/8, fd00::/8) nor an IP address", prefix(key), n)
			}
			k.Allow = append(k.Allow, p)
		}
	}
	return k, nil
}

func prefix(key string) string {
	if len(key) > 4 {
		return key[:4]
	}
	return key
}

// parsePrefix reads a CIDR or a bare address (that one host). An
// IPv4-mapped IPv6 entry (::ffff:10.0.0.1, ::ffff:10.0.0.0/104) is kept in
// its IPv4 form, the form a connection's address is compared in.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return unmapPrefix(p.Masked()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmapPrefix is an IPv4-mapped IPv6 prefix of /96 or longer in its IPv4
// form (::ffff:127.0.0.0/104 is 127.0.0.0/8); other prefixes as they are.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
}

// storedKey is an API key as kept in the store: only its hash.
type storedKey struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	SHA256  string    `json:"sha256"`
	Allow   []string  `json:"allow,omitempty"`
	Created time.Time `json:"created"`
}

type keyEntry struct {
	id    string
	name  string
	allow []netip.Prefix
}

// keyring checks bearer keys: configured ones and those stored through /v1/keys.
type keyring struct {
	store  store.ConfigStore
	mu     sync.RWMutex
	byHash map[string]keyEntry
	stored map[string]storedKey
	// required stays set once any key existed: deleting the last stored key
	// must not open the API on an address that was bound because keys existed.
	required bool
}

func hashKey(k string) string {
	h := sha256.Sum256([]byte(k))
	return hex.EncodeToString(h[:])
}

func newKeyring(ctx context.Context, st store.ConfigStore, keys []APIKey) (*keyring, error) {
	kr := &keyring{store: st, byHash: map[string]keyEntry{}, stored: map[string]storedKey{}}
	for _, k := range keys {
		kr.byHash[hashKey(k.Key)] = keyEntry{id: "", name: k.Name, allow: k.Allow}
		kr.required = true
	}
	recs, err := st.ListConfig(ctx, store.APIKeys)
	if err != nil {
		return nil, fmt.Errorf("load api keys: %w", err)
	}
	for _, r := range recs {
		var sk storedKey
		if err := json.Unmarshal(r.Value, &sk); err != nil {
			return nil, fmt.Errorf("stored api key %q: %w", r.ID, err)
		}
		if err := kr.addStored(sk); err != nil {
			return nil, err
		}
	}
	return kr, nil
}

func (kr *keyring) addStored(sk storedKey) error {
	e := keyEntry{id: sk.ID, name: sk.Name}
	for _, a := range sk.Allow {
		p, err := parsePrefix(a)
		if err != nil {
			return fmt.Errorf("api key %q: allow %q: %w", sk.ID, a, err)
		}
		e.allow = append(e.allow, p)
	}
	kr.byHash[sk.SHA256] = e
	kr.stored[sk.ID] = sk
	kr.required = true
	return nil
}

func (kr *keyring) configured() bool {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.required
}

// check returns the key's name, or an error saying why the request is refused.
func (kr *keyring) check(authz string, from netip.Addr) (string, error) {
	// The scheme is case-insensitive (RFC 9110, 11.1).
	scheme, token, _ := strings.Cut(strings.TrimSpace(authz), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", apiErr(fiber.StatusUnauthorized, CodeUnauthorized, "Authorization", "an API key is required: send \"Authorization: Bearer KEY\"")
	}
	kr.mu.RLock()
	e, found := kr.byHash[hashKey(token)]
	kr.mu.RUnlock()
	if !found {
		return "", apiErr(fiber.StatusUnauthorized, CodeUnauthorized, "Authorization", "unknown API key")
	}
	if len(e.allow) > 0 && !slices.ContainsFunc(e.allow, func(p netip.Prefix) bool { return p.Contains(from.Unmap()) }) {
		return "", apiErr(fiber.StatusForbidden, CodeForbidden, "", "API key %q may not be used from %s", e.name, from)
	}
	return e.name, nil
}

// authenticate guards /v1 once any key exists. Without keys the listener only
// accepts loopback connections, which is the guard.
func (s *Server) authenticate(c *fiber.Ctx) error {
	if !s.keys.configured() {
		return c.Next()
	}
	from, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	name, err := s.keys.check(c.Get(fiber.HeaderAuthorization), from)
	if err != nil {
		return err
	}
	c.Locals(localKey, name)
	return c.Next()
}

type createKeyBody struct {
	Name  string   `json:"name"`
	Allow []string `json:"allow"`
}

// createKey makes a random key, stores its hash and shows the key once.
func (s *Server) createKey(c *fiber.Ctx) error {
	var b createKeyBody
	if err := decodeStrict(c.Body(), &b); err != nil {
		return err
	}
	if strings.TrimSpace(b.Name) == "" {
		return badRequest("name", "a key needs a name")
	}
	for i, a := range b.Allow {
		if _, err := parsePrefix(a); err != nil {
			return badRequest(fmt.Sprintf("allow[%d]", i), "%q is neither a CIDR nor an IP address", a)
		}
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	key := "pk_" + base64.RawURLEncoding.EncodeToString(raw)
	sk := storedKey{ID: uuid.NewString(), Name: b.Name, SHA256: hashKey(key), Allow: b.Allow, Created: s.cfg.Now().UTC()}
	v, err := json.Marshal(sk)
	if err != nil {
		return err
	}
	if err := s.store.PutConfig(c.UserContext(), store.APIKeys, sk.ID, v); err != nil {
		return err
	}
	s.keys.mu.Lock()
	err = s.keys.addStored(sk)
	s.keys.mu.Unlock()
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": sk.ID, "name": sk.Name, "key": key, "allow": allowList(sk.Allow), "created": sk.Created})
}

// allowList is a key's allowed networks as the API shows them: an array,
// empty when the key may be used from anywhere.
func allowList(allow []string) []string {
	if allow == nil {
		return []string{}
	}
	return allow
}

func (s *Server) listKeys(c *fiber.Ctx) error {
	s.keys.mu.RLock()
	out := make([]fiber.Map, 0, len(s.keys.stored))
	for _, sk := range s.keys.stored {
		out = append(out, fiber.Map{"id": sk.ID, "name": sk.Name, "allow": allowList(sk.Allow), "created": sk.Created})
	}
	s.keys.mu.RUnlock()
	slices.SortFunc(out, func(a, b fiber.Map) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	return c.JSON(fiber.Map{"keys": out})
}

func (s *Server) deleteKey(c *fiber.Ctx) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	sk, ok := s.keys.stored[id]
	if !ok {
		return notFound("API key %q not found (keys given by flag or environment cannot be deleted here)", id)
	}
	if err := s.store.DeleteConfig(c.UserContext(), store.APIKeys, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	delete(s.keys.stored, id)
	delete(s.keys.byHash, sk.SHA256)
	return c.SendStatus(fiber.StatusNoContent)
}

// checkOrigin refuses what a web page the operator happens to visit could
// make a browser send. A request whose Origin header is present and is not
// this server's own origin (the scheme, host and port it was sent to, or the
// --public-url origin) comes from another site's page. A server without API
// keys is guarded only by listening on loopback, which a page defeats by
// DNS rebinding (a name of its own that resolves to 127.0.0.1): there a Host
// that is not a loopback name or address, or the --public-url host, is refused
// too. The --public-url host is where a tunnel or proxy delivers the
// internet's requests, from loopback: without keys only the routes that
// check who sent a request themselves are served there (publicKeyless).
// Twilio's webhooks and other servers send no Origin.
func (s *Server) checkOrigin(c *fiber.Ctx) error {
	if !s.keys.configured() {
		all, n := requestHosts(c)
		hosts := all[:n]
		for _, h := range hosts {
			if !loopbackHost(h) && !s.publicHost(h) {
				return apiErr(fiber.StatusForbidden, CodeForbidden, "Host",
					"Host %q refused: a server without API keys answers only requests sent to a loopback name or address (localhost, 127.0.0.1, [::1]) or to the --public-url host", h)
			}
		}
		if pub, ok := s.publicOf(hosts); ok && !publicKeyless(c.Path()) {
			return apiErr(fiber.StatusForbidden, CodeForbidden, "Host",
				"%.80q refused through the --public-url host %q: serving /v1 and the simulator through --public-url needs API keys (--api-key or %s); without them that host serves only /twilio/ webhooks of channels with an auth_token, and /healthz",
				c.Path(), pub, EnvAPIKeys)
		}
	}
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return c.Next()
	}
	own := originOf(c.Protocol(), string(c.Request().Host()))
	if o := normalOrigin(origin); o == "" || (o != own && o != normalOrigin(s.cfg.PublicURL)) {
		return apiErr(fiber.StatusForbidden, CodeForbidden, "Origin",
			"cross-site request refused: Origin %q is not this server's origin (%s, or the --public-url origin)", origin, own)
	}
	return c.Next()
}

// requestHosts are the hosts a request was sent to: its Host header and,
// when the request line carries an absolute URL (GET http://localhost/...),
// that URL's host, which fasthttp, as HTTP/1.1 says, takes for the
// request's host in place of the header. A tunnel or proxy may pass such a
// request line on as it came while it sets Host to its own public name, so
// a server without API keys judges a request by both.
func requestHosts(c *fiber.Ctx) (hosts [2]string, n int) {
	target, header := c.Request().Host(), c.Request().Header.Host()
	hosts[0] = string(target)
	if len(header) == 0 || bytes.EqualFold(header, target) {
		return hosts, 1
	}
	hosts[1] = string(header)
	return hosts, 2
}

// throughPublicHost reports whether a request came through the
// --public-url host, by either of its hosts (requestHosts) that names it
// and is not a loopback name, and returns that host as sent.
func (s *Server) throughPublicHost(c *fiber.Ctx) (string, bool) {
	hosts, n := requestHosts(c)
	return s.publicOf(hosts[:n])
}

// publicOf returns the first of hosts that names the --public-url host and
// is not a loopback name.
func (s *Server) publicOf(hosts []string) (string, bool) {
	for _, h := range hosts {
		if s.publicHost(h) && !loopbackHost(h) {
			return h, true
		}
	}
	return "", false
}

// publicKeyless reports whether a path is served through the --public-url
// host by a server without API keys. A tunnel or proxy delivers the
// internet's requests from loopback, so there the listener's loopback guard
// does not hold: only the routes that check who sent a request themselves
// are served, Twilio's webhooks (twilioRequest refuses a channel without an
// auth_token there) and the health check. The path is compared as fiber
// routes it, in any case.
func publicKeyless(path string) bool {
	const tw = "/twilio/"
	return strings.EqualFold(strings.TrimSuffix(path, "/"), "/healthz") ||
		len(path) >= len(tw) && strings.EqualFold(path[:len(tw)], tw)
}

// originOf is the origin of scheme://host, without the scheme's default port.
func originOf(scheme, host string) string {
	host = strings.ToLower(host)
	switch {
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	}
	return scheme + "://" + host
}

// normalOrigin is the origin of a URL or origin, "" when it has none.
func normalOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return originOf(strings.ToLower(u.Scheme), u.Host)
}

// hostName is the name or address of a Host header value, without its port
// or an IPv6 address's brackets.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// loopbackHost reports whether a Host header names this machine's loopback:
// localhost, or an address in 127.0.0.0/8 or ::1.
func loopbackHost(host string) bool {
	name := hostName(host)
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(name)
	return err == nil && ip.Unmap().IsLoopback()
}

// publicHost reports whether a Host header names the --public-url host.
func (s *Server) publicHost(host string) bool {
	return s.publicName != "" && strings.EqualFold(s.publicName, hostName(host))
}

// publicHostName is the host name of a --public-url, "" when there is none.
func publicHostName(publicURL string) string {
	if publicURL == "" {
		return ""
	}
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
