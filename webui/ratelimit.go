package webui

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter is a token bucket per client network: an IPv4 address, or an IPv6 /64 (what one
// household or office gets). Buckets idle for an hour are forgotten. It lives in the process:
// several `spaces serve` behind one balancer each count on their own.
type ipLimiter struct {
	every rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[netip.Prefix]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(every rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{every: every, burst: burst, buckets: map[netip.Prefix]*bucket{}, lastSweep: time.Now()}
}

// allow takes one token from addr's bucket and tells whether there was one.
func (l *ipLimiter) allow(addr netip.Addr) bool {
	key := clientNetwork(addr)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > time.Hour {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

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
