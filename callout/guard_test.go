package callout

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parleyhq/parley/flows"
)

func TestGuardCheckAddr(t *testing.T) {
	tests := []struct {
		addr    string
		allow   []string
		blocked bool
	}{
		{addr: "93.184.216.34"},
		{addr: "2606:4700:4700::1111"},
		{addr: "127.0.0.1", blocked: true},
		{addr: "10.1.2.3", blocked: true},
		{addr: "172.16.0.1", blocked: true},
		{addr: "192.168.1.1", blocked: true},
		{addr: "169.254.169.254", blocked: true},
		{addr: "100.64.0.1", blocked: true},
		{addr: "0.0.0.0", blocked: true},
		{addr: "224.0.0.1", blocked: true},
		{addr: "255.255.255.255", blocked: true},
		{addr: "::1", blocked: true},
		{addr: "::", blocked: true},
		{addr: "fe80::1", blocked: true},
		{addr: "fc00::1", blocked: true},
		{addr: "ff02::1", blocked: true},
		{addr: "::ffff:127.0.0.1", blocked: true},
		{addr: "::ffff:10.0.0.1", blocked: true},
		{addr: "::ffff:169.254.169.254", blocked: true},
		{addr: "64:ff9b::a00:1", blocked: true},
		{addr: "2001:db8::1", blocked: true},
		{addr: "127.0.0.1", allow: []string{"127.0.0.0/8"}},
		{addr: "::ffff:127.0.0.1", allow: []string{"127.0.0.0/8"}},
		{addr: "10.0.0.7", allow: []string{"10.0.0.7"}},
		{addr: "10.0.0.8", allow: []string{"10.0.0.7"}, blocked: true},
		{addr: "fd00::5", allow: []string{"fd00::/8"}},
		{addr: "::1", allow: []string{"127.0.0.0/8"}, blocked: true},
		{addr: "127.0.0.1", allow: []string{"::ffff:127.0.0.1"}},
		{addr: "127.0.0.5", allow: []string{"::ffff:127.0.0.0/104"}},
		{addr: "::ffff:127.0.0.5", allow: []string{"::ffff:127.0.0.0/104"}},
		{addr: "10.0.0.1", allow: []string{"::ffff:127.0.0.0/104"}, blocked: true},
		{addr: "127.0.0.2", allow: []string{"::ffff:127.0.0.1"}, blocked: true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			allow, err := ParseAllowCIDRs(tt.allow, "")
			if err != nil {
				t.Fatal(err)
			}
			err = NewGuard(allow).CheckAddr(netip.MustParseAddr(tt.addr))
			if got := err != nil; got != tt.blocked {
				t.Fatalf("CheckAddr(%s) with allow %v: blocked=%v (%v), want %v", tt.addr, tt.allow, got, err, tt.blocked)
			}
			if err != nil && !errors.Is(err, ErrBlocked) {
				t.Fatalf("error %v does not wrap ErrBlocked", err)
			}
		})
	}
}

func TestParseAllowCIDRs(t *testing.T) {
	tests := []struct {
		name    string
		flags   []string
		env     string
		want    []string
		wantErr string
	}{
		{name: "none"},
		{name: "flags replace env", flags: []string{"10.0.0.0/8", "192.168.1.5"}, env: "fd00::/8, ::1", want: []string{"10.0.0.0/8", "192.168.1.5/32"}},
		{name: "env", env: "fd00::/8, ::1", want: []string{"fd00::/8", "::1/128"}},
		{name: "bad env ignored under flags", flags: []string{"10.0.0.0/8"}, env: "intranet", want: []string{"10.0.0.0/8"}},
		{name: "comma list in one flag", flags: []string{"10.0.0.0/8,172.16.0.0/12"}, want: []string{"10.0.0.0/8", "172.16.0.0/12"}},
		{name: "host bits masked", flags: []string{"10.1.2.3/8"}, want: []string{"10.0.0.0/8"}},
		{name: "bad flag", flags: []string{"10.0.0.0/33"}, wantErr: `--allow-cidr: "10.0.0.0/33"`},
		{name: "bad env", env: "10.0.0.0/8,intranet", wantErr: `PARLEY_ALLOW_CIDRS: "intranet"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAllowCIDRs(tt.flags, tt.env)
			if tt.wantErr != "" {
				if err == nil || !contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if len(s) != len(tt.want) {
				t.Fatalf("got %v, want %v", s, tt.want)
			}
			for i := range s {
				if s[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", s, tt.want)
				}
			}
		})
	}
}

// The guard judges the address actually dialled: loopback is refused by
// default whether given as an IP, an IPv4-mapped IPv6 address or a name, and
// on redirect hops.
func TestGuardOnCalls(t *testing.T) {
	var hits atomic.Int32
	var portS string
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/hop" {
			// 127.0.0.2 is loopback too, but not in the test's allowlist.
			http.Redirect(w, r, "http://127.0.0.2:"+portS+"/", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	port := srv.Listener.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	portS = itoa(int(port))
	only := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name  string
		allow []netip.Prefix
		url   string
		want  string
	}{
		{name: "loopback refused by default", url: srv.URL, want: flows.OutcomeBlocked},
		{name: "loopback allowed by the allowlist", allow: loopback, url: srv.URL, want: flows.OutcomeSuccess},
		{name: "IPv4-mapped IPv6 refused", url: "http://[::ffff:127.0.0.1]:" + portS + "/", want: flows.OutcomeBlocked},
		{name: "name resolving to loopback refused", url: "http://localhost:" + portS + "/", want: flows.OutcomeBlocked},
		{name: "IPv6 loopback refused", url: "http://[::1]:" + portS + "/", want: flows.OutcomeBlocked},
		{name: "redirect hop re-checked", allow: only, url: srv.URL + "/hop", want: flows.OutcomeBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{AllowCIDRs: tt.allow})
			before := hits.Load()
			res := call(t, s, &flows.WebhookRequest{Method: "GET", URL: tt.url, FollowRedirects: true})
			if res.Outcome != tt.want {
				t.Fatalf("outcome %q (%s), want %q", res.Outcome, res.Error, tt.want)
			}
			if tt.want == flows.OutcomeBlocked && tt.allow == nil && hits.Load() != before {
				t.Fatalf("the server was reached despite the guard")
			}
		})
	}
}

func TestUnsafeDisablesGuard(t *testing.T) {
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {})
	res := call(t, New(Options{Unsafe: true}), &flows.WebhookRequest{Method: "GET", URL: srv.URL})
	if res.Outcome != flows.OutcomeSuccess {
		t.Fatalf("outcome %q (%s), want success", res.Outcome, res.Error)
	}
}

// The server's own listen address is refused whatever the allowlist says;
// an unspecified listen address stands for the port on every local address.
func TestGuardRefusesOwnAddress(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		listen, dial string
		own          bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "[::ffff:127.0.0.1]:8080", true},
		{"127.0.0.1:8080", "127.0.0.1:8081", false},
		{"127.0.0.1:8080", "127.0.0.2:8080", false},
		{"[::1]:8080", "[::1]:8080", true},
		{"0.0.0.0:8080", "127.0.0.1:8080", true},
		{"0.0.0.0:8080", "127.0.0.9:8080", true},
		{"0.0.0.0:8080", "[::1]:8080", true},
		{"0.0.0.0:8080", "127.0.0.1:9090", false},
		{"[::]:8080", "127.0.0.1:8080", true},
	}
	for _, c := range cases {
		g := NewGuard(allow)
		network := "tcp4"
		if strings.HasPrefix(c.dial, "[") && !strings.Contains(c.dial, "ffff") {
			network = "tcp6"
		}
		if err := g.Control(network, c.dial, nil); err != nil {
			t.Fatalf("%s before RefuseOwn: %v", c.dial, err)
		}
		g.RefuseOwn(netip.MustParseAddrPort(c.listen))
		err := g.Control(network, c.dial, nil)
		if own := err != nil; own != c.own {
			t.Errorf("listening on %s, dial %s: refused %v (%v), want %v", c.listen, c.dial, own, err, c.own)
		}
		if err != nil && (!errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "this server's own listen address")) {
			t.Errorf("dial %s: error %v, want ErrBlocked naming the server's own address", c.dial, err)
		}
	}
}

// IPv4-mapped entries are kept in their IPv4 form.
func TestParseAllowCIDRUnmaps(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:127.0.0.1":     "127.0.0.1/32",
		"::ffff:127.0.0.0/104": "127.0.0.0/8",
		"::ffff:0:0/96":        "0.0.0.0/0",
		"::/0":                 "::/0",
		"fd00::/8":             "fd00::/8",
	} {
		p, err := ParseAllowCIDR(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseAllowCIDR(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
}

// A refusal says which range denied the address and how to allow it.
func TestGuardRefusalNamesTheFlag(t *testing.T) {
	err := NewGuard(nil).CheckAddr(netip.MustParseAddr("127.0.0.1"))
	if err == nil || !strings.Contains(err.Error(), "127.0.0.0/8") ||
		!strings.HasSuffix(err.Error(), "; it can be allowed with --allow-cidr (or PARLEY_ALLOW_CIDRS)") {
		t.Errorf("refusal %v, want the range that denied it and --allow-cidr", err)
	}
	g := NewGuard(loopback)
	g.RefuseOwn(netip.MustParseAddrPort("127.0.0.1:8080"))
	if err := g.Control("tcp4", "127.0.0.1:8080", nil); err == nil || strings.Contains(err.Error(), "--allow-cidr (or") {
		t.Errorf("refusal of the server's own address %v: --allow-cidr cannot allow it", err)
	}
}
