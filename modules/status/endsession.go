package status

import (
	"context"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"

	"parley/adhoc"
	"parley/audit"
	"parley/dataform"
	"parley/stanza"
)

// NodeEndUserSession is the XEP-0133 command that ends the sessions of
// accounts (a bare JID: all of them; a full JID: that one).
const NodeEndUserSession = "http://jabber.org/protocol/admin#end-user-session"

// nsAdmin is the FORM_TYPE of XEP-0133's forms.
const nsAdmin = "http://jabber.org/protocol/admin"

// endUserSession lets an admin end users' sessions; each is noted in the
// audit log.
func (s *status) endUserSession() adhoc.Command {
	return adhoc.Command{
		Node:     NodeEndUserSession,
		Name:     "End User Session",
		Access:   adhoc.Admins,
		Stages:   []adhoc.Stage{{Form: endSessionForm, Submit: s.checkAccounts}},
		Complete: s.endSessions,
	}
}

func endSessionForm(context.Context, *adhoc.Session) (*stanza.Element, error) {
	form := dataform.New("form", nsAdmin)
	jids := dataform.Field("accountjids", "jid-multi", "The Jabber ID(s) for which to end sessions")
	jids.Append(stanza.New(dataform.NS, "required"))
	form.Append(
		stanza.New(dataform.NS, "title").AppendText("Ending a User Session"),
		stanza.New(dataform.NS, "instructions").AppendText("Fill out this form to end a user's session: a bare JID ends all of its sessions, a full JID that one."),
		jids,
	)
	return form, nil
}

// accounts parses the submitted JIDs.
func (s *status) accounts(values []string) ([]jid.JID, error) {
	var out []jid.JID
	for _, v := range values {
		j, err := jid.Parse(strings.TrimSpace(v))
		if err != nil || j.Localpart() == "" || !s.r.Serves(j.Domainpart()) {
			return nil, adhoc.BadPayload(fmt.Sprintf("%q is not an account of this server", v))
		}
		out = append(out, j)
	}
	if len(out) == 0 {
		return nil, adhoc.BadPayload("name at least one account")
	}
	return out, nil
}

func (s *status) checkAccounts(_ context.Context, _ *adhoc.Session, f dataform.Form) error {
	_, err := s.accounts(f.Values["accountjids"])
	return err
}

func (s *status) endSessions(_ context.Context, sess *adhoc.Session) (adhoc.Result, error) {
	accounts, err := s.accounts(sess.Values("accountjids"))
	if err != nil {
		return adhoc.Result{}, err
	}
	admin := sess.From.Bare().String()
	var notes []adhoc.Note
	for _, a := range accounts {
		var ended []string
		if a.Resourcepart() != "" {
			if res := s.r.Lookup(a); res != nil {
				ended = append(ended, res.JID.String())
				res.Session.Close("policy-violation", "an administrator ended this session")
			}
		} else {
			for _, res := range s.r.Resources(a.String()) {
				ended = append(ended, res.JID.String())
				res.Session.Close("policy-violation", "an administrator ended this session")
			}
		}
		if len(ended) == 0 {
			notes = append(notes, adhoc.Warn(fmt.Sprintf("%s has no session.", a)))
			continue
		}
		if err := s.audit.Record(audit.Event{Actor: admin, Action: audit.SessionsEnded, Target: a.String(),
			Detail: fmt.Sprintf("%d sessions ended with the ad-hoc command end-user-session: %s", len(ended), strings.Join(ended, ", "))}); err != nil {
			s.log(err)
		}
		notes = append(notes, adhoc.Info(fmt.Sprintf("Ended %d sessions of %s.", len(ended), a)))
	}
	return adhoc.Result{Notes: notes}, nil
}
