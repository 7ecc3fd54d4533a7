package webui

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientNetwork is the network rate limits count a client against: its IPv4 address, or its IPv6
// /64 (what one household or office gets). The application form's limit is in Postgres
// (tenants.RateTake, tenants.ApplyNetworkRule), so that replicas count together.
func clientNetwork(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// loginNetwork is the network failed logins are counted against: the IPv4 /24 or the IPv6 /64 of
// addr. Wider than clientNetwork's IPv4 address: logins are rare and come from moderators only,
// while someone guessing passwords easily holds several addresses of one block.
func loginNetwork(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// clientAddr is the address of the person behind r: the connection's peer, or, when the peer is
// a trusted proxy, the last address in X-Forwarded-For that is not one.
func (h *handler) clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	if !h.trusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !h.trusted(hop) {
			return hop
		}
		addr = hop
	}
	return addr
}

func (h *handler) trusted(a netip.Addr) bool {
	for _, p := range h.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
