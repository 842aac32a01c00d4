// Package status offers ad-hoc commands (XEP-0050) about the server's
// state: its uptime to every local user, and to the server's
// administrators the users online and ending users' sessions (XEP-0133).
package status

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"parley/adhoc"
	"parley/audit"
	"parley/dataform"
	"parley/module"
	"parley/router"
	"parley/stanza"
)

// Command nodes.
const (
	NodeUptime      = "uptime"
	NodeOnlineUsers = "online-users"
)

// maxItems are the choices of how many online users to list; "none"
// lists them all (as XEP-0133's max_items).
func maxItems() []string { return []string{"25", "50", "75", "100", "150", "200", "none"} }

// Spec declares the status commands as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "status", Setup: func(h *module.Host) (any, error) {
		s := &status{r: h.Router, started: time.Now(), now: time.Now, audit: h.Audit,
			log: func(err error) { h.Log.Error().Err(err).Msg("recording in the audit log failed") }}
		if err := h.Commands.Add(s.uptime()); err != nil {
			return nil, err
		}
		if err := h.Commands.Add(s.onlineUsers()); err != nil {
			return nil, err
		}
		if err := h.Commands.Add(s.endUserSession()); err != nil {
			return nil, err
		}
		return nil, nil
	}}
}

type status struct {
	r       *router.Router
	started time.Time
	now     func() time.Time
	audit   *audit.Log
	log     func(error)
}

// uptime tells any local user how long the server has been running.
func (s *status) uptime() adhoc.Command {
	return adhoc.Command{
		Node:   NodeUptime,
		Name:   "Server uptime",
		Access: adhoc.LocalUsers,
		Complete: func(_ context.Context, sess *adhoc.Session) (adhoc.Result, error) {
			up := s.now().Sub(s.started).Truncate(time.Second)
			form := dataform.New("result", "urn:parley:status:uptime")
			form.Append(
				dataform.Field("uptime", "text-single", "Uptime in seconds", strconv.FormatInt(int64(up/time.Second), 10)),
				dataform.Field("started", "text-single", "Running since", s.started.UTC().Format(time.RFC3339)),
			)
			return adhoc.Result{
				Notes: []adhoc.Note{adhoc.Info(fmt.Sprintf("%s has been running for %s.", sess.To, up))},
				Form:  form,
			}, nil
		},
	}
}

// onlineUsers lists the users online on one served domain, for admins:
// the first stage asks for the domain, the second tells how many are
// online there and asks how many to list.
func (s *status) onlineUsers() adhoc.Command {
	return adhoc.Command{
		Node:   NodeOnlineUsers,
		Name:   "List online users",
		Access: adhoc.Admins,
		Stages: []adhoc.Stage{
			{Form: s.domainForm, Submit: s.checkDomain},
			{Form: s.countForm, Submit: checkMaxItems},
		},
		Complete: s.listOnline,
	}
}

func (s *status) domainForm(_ context.Context, sess *adhoc.Session) (*stanza.Element, error) {
	form := dataform.New("form", "urn:parley:status:online-users")
	form.Append(
		stanza.New(dataform.NS, "title").AppendText("List online users"),
		stanza.New(dataform.NS, "instructions").AppendText("Choose the domain whose online users to list."),
	)
	domain := dataform.Field("domain", "list-single", "Domain", sess.To.Domainpart())
	domain.Append(stanza.New(dataform.NS, "required"))
	var options []string
	for _, d := range s.r.Domains() {
		options = append(options, d, d)
	}
	form.Append(dataform.WithOptions(domain, options...))
	return form, nil
}

func (s *status) checkDomain(_ context.Context, _ *adhoc.Session, f dataform.Form) error {
	d, _ := f.Value("domain")
	if !s.r.Serves(d) {
		return adhoc.BadPayload(fmt.Sprintf("%q is not a domain of this server", d))
	}
	return nil
}

func (s *status) countForm(_ context.Context, sess *adhoc.Session) (*stanza.Element, error) {
	d, _ := sess.Value("domain")
	n := len(s.online(d))
	form := dataform.New("form", "urn:parley:status:online-users")
	form.Append(
		stanza.New(dataform.NS, "title").AppendText("List online users"),
		stanza.New(dataform.NS, "instructions").AppendText(fmt.Sprintf("%d users are online on %s. How many should be listed?", n, d)),
		dataform.Field("count", "fixed", "", strconv.Itoa(n)),
	)
	max := dataform.Field("max_items", "list-single", "Maximum number of users", "100")
	var options []string
	for _, m := range maxItems() {
		options = append(options, m, m)
	}
	form.Append(dataform.WithOptions(max, options...))
	return form, nil
}

func checkMaxItems(_ context.Context, _ *adhoc.Session, f dataform.Form) error {
	if m, ok := f.Value("max_items"); ok && !slices.Contains(maxItems(), m) {
		return adhoc.BadPayload(fmt.Sprintf("max_items %q is not one of %s", m, strings.Join(maxItems(), ", ")))
	}
	return nil
}

func (s *status) listOnline(_ context.Context, sess *adhoc.Session) (adhoc.Result, error) {
	d, _ := sess.Value("domain")
	users := s.online(d)
	total := len(users)
	m, _ := sess.Value("max_items")
	if n, err := strconv.Atoi(m); err == nil && n < len(users) {
		users = users[:n]
	} else if m == "" && len(users) > 100 {
		users = users[:100]
	}
	form := dataform.New("result", "urn:parley:status:online-users")
	form.Append(
		dataform.Field("domain", "text-single", "Domain", d),
		dataform.Field("onlineusersnum", "text-single", "Number of online users", strconv.Itoa(total)),
		dataform.Field("onlineuserjids", "jid-multi", "Online users", users...),
	)
	note := fmt.Sprintf("%d users are online on %s.", total, d)
	if len(users) < total {
		note = fmt.Sprintf("%d users are online on %s; the first %d are listed.", total, d, len(users))
	}
	return adhoc.Result{Notes: []adhoc.Note{adhoc.Info(note)}, Form: form}, nil
}

// online returns the bare JIDs of domain with a bound resource, sorted.
func (s *status) online(domain string) []string {
	var out []string
	for _, bare := range s.r.Bound() {
		if strings.HasSuffix(bare, "@"+domain) {
			out = append(out, bare)
		}
	}
	return out
}
