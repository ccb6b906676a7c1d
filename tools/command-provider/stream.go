package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
)

// Severity of a message sent to the engine.
type Severity int

const (
	SevDebug Severity = iota
	SevInfo
	SevWarning
	SevError
)

// Logger forwards diagnostics to the Pulumi engine. A nil Logger is valid
// everywhere and drops messages (used by tests and when no engine is attached).
type Logger interface {
	Log(ctx context.Context, sev Severity, urn string, msg string, ephemeral bool) error
}

// logTo sends a message if a logger is present; engine logging failures never
// fail an operation.
func logTo(ctx context.Context, l Logger, sev Severity, urn, msg string, ephemeral bool) {
	if l == nil {
		return
	}
	_ = l.Log(ctx, sev, urn, msg, ephemeral)
}

// maxPendingLine bounds how much of an unterminated line is buffered before
// it is forwarded anyway (progress bars, binary output ...).
const maxPendingLine = 16 * 1024

// lineSink captures everything written to it and calls emit once per line
// as soon as the line is complete. It is safe for concurrent use.
type lineSink struct {
	mu      sync.Mutex
	all     bytes.Buffer
	pending []byte
	emit    func(line string) // may be nil
}

func newLineSink(emit func(string)) *lineSink { return &lineSink{emit: emit} }

func (s *lineSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all.Write(p)
	if s.emit == nil {
		return len(p), nil
	}
	s.pending = append(s.pending, p...)
	for {
		i := bytes.IndexByte(s.pending, '\n')
		if i < 0 {
			break
		}
		s.emit(strings.TrimSuffix(string(s.pending[:i]), "\r"))
		s.pending = s.pending[i+1:]
	}
	if len(s.pending) > maxPendingLine {
		s.emit(string(s.pending))
		s.pending = nil
	}
	// Release the consumed prefix so the slice does not grow without bound.
	if len(s.pending) == 0 {
		s.pending = nil
	}
	return len(p), nil
}

// Close forwards a trailing unterminated line, if any.
func (s *lineSink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.emit != nil && len(s.pending) > 0 {
		s.emit(strings.TrimSuffix(string(s.pending), "\r"))
	}
	s.pending = nil
}

func (s *lineSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all.String()
}

// trimOutput mirrors what upstream does with captured output: a single
// trailing newline is dropped.
func trimOutput(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// tail returns at most the last maxLines lines / maxBytes bytes of s.
func tail(s string, maxLines, maxBytes int) string {
	s = strings.TrimRight(s, "\n")
	if len(s) > maxBytes {
		s = "..." + s[len(s)-maxBytes:]
	}
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = append([]string{"..."}, lines[len(lines)-maxLines:]...)
	}
	return strings.Join(lines, "\n")
}

// redactor replaces known secret strings in text that leaves the provider
// as log lines or error messages.
type redactor []string

func newRedactor(secrets []string) redactor {
	var r redactor
	seen := map[string]bool{}
	for _, s := range secrets {
		// Very short values ("1", "on") would shred unrelated text; they are
		// still protected in state, just not scrubbed from log lines.
		if len(s) < 4 || seen[s] {
			continue
		}
		seen[s] = true
		r = append(r, s)
		// Multi-line secrets (keys, certificates): also scrub each line, since
		// output is forwarded line by line.
		if strings.Contains(s, "\n") {
			for _, l := range strings.Split(s, "\n") {
				l = strings.TrimSpace(l)
				if len(l) >= 8 && !seen[l] {
					seen[l] = true
					r = append(r, l)
				}
			}
		}
	}
	// Longest first so that a secret containing another is replaced whole.
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && len(r[j]) > len(r[j-1]); j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
	return r
}

func (r redactor) apply(s string) string {
	for _, sec := range r {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "[secret]")
		}
	}
	return s
}

// exitError is returned when a command ran but did not succeed.
type exitError struct {
	code   int    // -1 when killed by a signal or unknown
	detail string // signal name or transport detail
	stdout string
	stderr string
	red    redactor
}

func (e *exitError) Error() string {
	var b strings.Builder
	if e.code >= 0 {
		fmt.Fprintf(&b, "command exited with code %d", e.code)
	} else {
		b.WriteString("command did not exit normally")
	}
	if e.detail != "" {
		fmt.Fprintf(&b, " (%s)", e.detail)
	}
	if t := tail(e.stderr, 20, 4096); t != "" {
		fmt.Fprintf(&b, "\n--- stderr (tail) ---\n%s", e.red.apply(t))
	}
	if t := tail(e.stdout, 10, 2048); t != "" {
		fmt.Fprintf(&b, "\n--- stdout (tail) ---\n%s", e.red.apply(t))
	}
	return b.String()
}
