package testutil

import (
	"strings"
	"time"

	"parley/audit"
)

// AuditDir returns the directory of the server's audit log.
func (s *Server) AuditDir() string { return audit.DefaultDir(s.Config.DataDir()) }

// AuditEvents returns the events of the server's audit log with action
// (every one if action is "") whose target and detail together contain
// every one of parts.
func (s *Server) AuditEvents(action string, parts ...string) []audit.Entry {
	s.T.Helper()
	var out []audit.Entry
	err := audit.Read(s.AuditDir(), time.Time{}, func(e audit.Entry) error {
		if (action == "" || e.Action == action) && containsAll(e.Target+" "+e.Detail, parts) {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		s.T.Fatalf("reading the audit log: %v", err)
	}
	return out
}

// WaitAudit waits up to timeout for an event of the server's audit log
// with action whose target and detail contain every one of parts, and
// returns it; it fails the test if none appears.
func (s *Server) WaitAudit(timeout time.Duration, action string, parts ...string) audit.Entry {
	s.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if evs := s.AuditEvents(action, parts...); len(evs) > 0 {
			return evs[0]
		}
		if time.Now().After(deadline) {
			var all []string
			for _, e := range s.AuditEvents("") {
				all = append(all, e.Action+" "+e.Target+": "+e.Detail)
			}
			s.T.Fatalf("no %s event with %q in the audit log within %v; it holds:\n%s", action, parts, timeout, strings.Join(all, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
