// Package smtptest is a small real SMTP server that keeps what it receives: the tests' mail
// server, and `spaces dev`'s mail catcher, which saves every mail as an .eml file and logs it.
// It speaks enough of RFC 5321 for real clients (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), and
// STARTTLS when given a certificate (SelfSigned makes one), without authentication. It is not
// meant to face the Internet.
package smtptest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"encoding/base64"
)

// Message is one mail the server accepted.
type Message struct {
	From     string
	To       []string
	Raw      []byte
	Header   mail.Header
	Subject  string // decoded
	Text     string // the body, with its transfer encoding undone
	Received time.Time
	TLS      bool // whether it came over a connection upgraded with STARTTLS
}

// Options configure a Server. All are optional.
type Options struct {
	// Dir, when set, receives each mail as an .eml file.
	Dir string
	// Logger, when set, gets a line per mail: "mail to X: subject".
	Logger *slog.Logger
	// TLS, when set, makes the server offer STARTTLS with this configuration.
	TLS *tls.Config
}

// Server is a running SMTP listener.
type Server struct {
	ln      net.Listener
	opts    Options
	mu      sync.Mutex
	msgs    []Message
	notify  chan struct{}
	failing atomic.Bool
	seq     atomic.Int64
	wg      sync.WaitGroup
	closed  atomic.Bool
}

// Start listens on addr (such as 127.0.0.1:0) and serves until Close.
func Start(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen on %s: %w", addr, err)
	}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			ln.Close()
			return nil, fmt.Errorf("smtptest: %w", err)
		}
	}
	s := &Server{ln: ln, opts: opts, notify: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the smtp:// URL clients are configured with.
func (s *Server) URL() string { return "smtp://" + s.Addr() }

// SetFailing makes the server answer every mail with a temporary failure (451), as a mail server
// in trouble does, or stop doing so.
func (s *Server) SetFailing(failing bool) { s.failing.Store(failing) }

// Close stops listening and waits for open sessions to end.
func (s *Server) Close() error {
	s.closed.Store(true)
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// Messages returns a copy of every mail received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait returns once a mail to rcpt has been received (any recipient when rcpt is empty) and
// returns the latest such mail, or fails when ctx ends.
func (s *Server) Wait(ctx context.Context, rcpt string) (Message, error) {
	for {
		s.mu.Lock()
		for i := len(s.msgs) - 1; i >= 0; i-- {
			m := s.msgs[i]
			for _, to := range m.To {
				if rcpt == "" || strings.EqualFold(to, rcpt) {
					s.mu.Unlock()
					return m, nil
				}
			}
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Message{}, fmt.Errorf("smtptest: no mail to %q: %w", rcpt, ctx.Err())
		}
	}
}

// WaitCount returns once at least n mails have been received.
func (s *Server) WaitCount(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			out := append([]Message(nil), s.msgs...)
			s.mu.Unlock()
			return out, nil
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("smtptest: waiting for %d mails: %w", n, ctx.Err())
		}
	}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if !s.closed.Load() && s.opts.Logger != nil {
				s.opts.Logger.Error("smtptest: accept", "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.session(conn)
		}()
	}
}

// maxMessage bounds one mail's size.
const maxMessage = 10 << 20

func (s *Server) session(conn net.Conn) {
	encrypted := false
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	reply := func(format string, args ...any) bool {
		fmt.Fprintf(w, format+"\r\n", args...)
		return w.Flush() == nil
	}
	var from string
	var to []string
	if !reply("220 smtptest ESMTP ready") {
		return
	}
	for {
		conn.SetDeadline(time.Now().Add(2 * time.Minute)) //nolint:errcheck
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			reply("250-smtptest greets %s", arg)
			reply("250-8BITMIME")
			reply("250-SIZE %d", maxMessage)
			if s.opts.TLS != nil && !encrypted {
				reply("250-STARTTLS")
			}
			reply("250 HELP")
		case "HELO":
			reply("250 smtptest")
		case "MAIL":
			if s.failing.Load() {
				reply("451 4.3.0 temporary failure, try again later")
				continue
			}
			from, to = addrArg(arg), nil
			reply("250 2.1.0 ok")
		case "RCPT":
			if from == "" {
				reply("503 5.5.1 MAIL first")
				continue
			}
			to = append(to, addrArg(arg))
			reply("250 2.1.5 ok")
		case "DATA":
			if len(to) == 0 {
				reply("503 5.5.1 RCPT first")
				continue
			}
			reply("354 end data with <CR><LF>.<CR><LF>")
			raw, err := readData(r)
			if err != nil {
				reply("552 5.3.4 %v", err)
				return
			}
			m, err := s.keep(from, to, raw, encrypted)
			if err != nil {
				reply("451 4.3.0 %v", err)
				continue
			}
			reply("250 2.0.0 ok: queued as %d", m)
			from, to = "", nil
		case "STARTTLS":
			if s.opts.TLS == nil || encrypted {
				reply("502 5.5.2 command not implemented")
				continue
			}
			reply("220 2.0.0 ready to start TLS")
			tconn := tls.Server(conn, s.opts.TLS)
			if err := tconn.Handshake(); err != nil {
				return
			}
			// RFC 3207: the session starts afresh, as if just connected.
			conn, encrypted, from, to = tconn, true, "", nil
			r, w = bufio.NewReader(conn), bufio.NewWriter(conn)
		case "RSET":
			from, to = "", nil
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not implemented")
		}
	}
}

// addrArg extracts the address from "FROM:<a@b> SIZE=…" or "TO:<a@b>".
func addrArg(arg string) string {
	_, rest, _ := strings.Cut(arg, ":")
	rest = strings.TrimSpace(rest)
	if i := strings.IndexByte(rest, '>'); strings.HasPrefix(rest, "<") && i > 0 {
		return rest[1:i]
	}
	addr, _, _ := strings.Cut(rest, " ")
	return addr
}

// readData reads a DATA section up to the lone dot, undoing dot-stuffing.
func readData(r *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == ".\r\n" || line == ".\n" {
			return buf.Bytes(), nil
		}
		line = strings.TrimPrefix(line, ".")
		buf.WriteString(line)
		if buf.Len() > maxMessage {
			return nil, errors.New("message too large")
		}
	}
}

func (s *Server) keep(from string, to []string, raw []byte, encrypted bool) (int64, error) {
	m := Message{From: from, To: to, Raw: raw, Received: time.Now(), TLS: encrypted}
	if parsed, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Header = parsed.Header
		dec := new(mime.WordDecoder)
		if subj, err := dec.DecodeHeader(parsed.Header.Get("Subject")); err == nil {
			m.Subject = subj
		}
		body, _ := io.ReadAll(decodeBody(parsed.Header.Get("Content-Transfer-Encoding"), parsed.Body))
		m.Text = strings.ReplaceAll(string(body), "\r\n", "\n")
	}
	n := s.seq.Add(1)
	if s.opts.Dir != "" {
		name := fmt.Sprintf("%s-%04d.eml", m.Received.UTC().Format("20060102T150405"), n)
		if err := os.WriteFile(filepath.Join(s.opts.Dir, name), raw, 0o644); err != nil {
			return 0, fmt.Errorf("save mail: %w", err)
		}
	}
	if s.opts.Logger != nil {
		s.opts.Logger.Info(fmt.Sprintf("mail to %s: %s", strings.Join(to, ", "), m.Subject))
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	return n, nil
}

func decodeBody(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: r})
	}
	return r
}

// newlineStripper drops the line breaks base64 bodies are folded with.
type newlineStripper struct{ r io.Reader }

func (n *newlineStripper) Read(p []byte) (int, error) {
	c, err := n.r.Read(p)
	out := p[:0]
	for _, b := range p[:c] {
		if b != '\r' && b != '\n' {
			out = append(out, b)
		}
	}
	return len(out), err
}
