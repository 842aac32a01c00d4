// Package adhoc is parley's framework for ad-hoc commands (XEP-0050):
// commands the server offers to clients, which list them through service
// discovery and run them as a dialogue of data forms (XEP-0004).
//
// A module adds its commands to the Registry (module.Host.Commands) while
// it is set up:
//
//	h.Commands.Add(adhoc.Command{
//		Node:   "uptime",
//		Name:   "Server uptime",
//		Access: adhoc.LocalUsers,
//		Complete: func(ctx context.Context, s *adhoc.Session) (adhoc.Result, error) {
//			return adhoc.Result{Notes: []adhoc.Note{adhoc.Info("up for 3h")}}, nil
//		},
//	})
//
// A command is a wizard: zero or more Stages, each a form the requester
// fills in, then Complete, which acts on everything submitted and returns
// what the requester is shown (notes and a result form). The framework
// does the protocol: the command list in disco#items of the node
// "http://jabber.org/protocol/commands" (only the commands the requester
// may run), disco#info of each command node, sessions (bound to the
// requester's full JID; ended after DefaultTimeout without a request, or
// when the resource goes offline), the actions each stage allows (next
// and complete forward, prev back to the previous stage's form with what
// was submitted there filled in again, cancel at any time) and the errors
// of XEP-0050 §4.6.
//
// A command with no stages completes at once. Stage.Submit may refuse a
// submission with BadPayload; the requester stays at that stage and may
// submit again. Complete may return a stanza error too (the session then
// stays at its last stage) or, for a failure the requester should read,
// a result with an Error note, which ends the session as XEP-0050 §3.5
// asks.
package adhoc

import (
	"context"

	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"

	"parley/dataform"
	"parley/stanza"
)

// NS is the XEP-0050 namespace, and the disco node of the command list.
const NS = commands.NS

// Access says who may list and run a command.
type Access int

// Access levels. The zero Access is invalid, so that a command says whom
// it is for.
const (
	// LocalUsers are the accounts of the served domains.
	LocalUsers Access = iota + 1
	// Admins are the accounts in server.admins.
	Admins
)

// String names the access level.
func (a Access) String() string {
	switch a {
	case LocalUsers:
		return "local users"
	case Admins:
		return "admins"
	}
	return "no one"
}

// Command is an ad-hoc command.
type Command struct {
	// Node identifies the command, unique on the server; for example
	// "uptime" or "http://jabber.org/protocol/admin#add-user".
	Node string
	// Name is the label clients show in their command menu.
	Name string
	// Access says who may list and run the command.
	Access Access
	// Stages are the forms the requester fills in, in order; none for a
	// command that runs at once.
	Stages []Stage
	// Complete runs the command once every stage is submitted, and
	// returns what the requester is shown.
	Complete func(ctx context.Context, s *Session) (Result, error)
}

// Stage is one form of a command's dialogue.
type Stage struct {
	// Form returns the form of this stage, a data form of type "form"
	// (see package dataform); it may depend on what earlier stages
	// submitted (Session.Submitted). When the requester comes back to the
	// stage with prev, the framework fills in what was submitted here
	// before.
	Form func(ctx context.Context, s *Session) (*stanza.Element, error)
	// Submit, if set, checks what the requester submitted at this stage
	// before the dialogue moves on. An error from BadPayload (or another
	// stanza.Error) goes back to the requester, who stays at this stage;
	// other errors are logged and answered with internal-server-error.
	Submit func(ctx context.Context, s *Session, f dataform.Form) error
}

// Session is one run of a command, passed to its functions.
type Session struct {
	// ID is the session's sessionid.
	ID string
	// Node is the command's node.
	Node string
	// From is the requester's full JID; the session is bound to it.
	From jid.JID
	// To is the served domain the command was sent to.
	To jid.JID
	// Lang is the language of the first request (xml:lang), or "".
	Lang string
	// Submitted holds what the requester submitted at each stage so far,
	// by stage; a stage not yet submitted has a zero Form.
	Submitted []dataform.Form
	// Data is the command's own state, kept between stages.
	Data any

	stage int // the stage whose form the requester was last sent
}

// Value returns the first value of field as last submitted at any stage,
// the latest stage first, and whether any stage submitted it.
func (s *Session) Value(field string) (string, bool) {
	for i := len(s.Submitted) - 1; i >= 0; i-- {
		if v, ok := s.Submitted[i].Value(field); ok {
			return v, true
		}
	}
	return "", false
}

// Values returns every value of field as last submitted at any stage,
// the latest stage first.
func (s *Session) Values(field string) []string {
	for i := len(s.Submitted) - 1; i >= 0; i-- {
		if v, ok := s.Submitted[i].Values[field]; ok {
			return v
		}
	}
	return nil
}

// Result is what a completed command shows the requester.
type Result struct {
	// Notes are messages to the requester; a command that failed
	// includes at least one Error note (XEP-0050 §3.5).
	Notes []Note
	// Form is an optional data form of type "result" with the command's
	// output.
	Form *stanza.Element
}

// Note is a <note/> of a command response.
type Note struct {
	Type commands.NoteType // commands.NoteInfo, NoteWarn or NoteError
	Text string
}

// Info returns an informational note.
func Info(text string) Note { return Note{Type: commands.NoteInfo, Text: text} }

// Warn returns a warning note.
func Warn(text string) Note { return Note{Type: commands.NoteWarn, Text: text} }

// Error returns a note saying the command failed.
func Error(text string) Note { return Note{Type: commands.NoteError, Text: text} }

// BadPayload returns the error for a submission the command cannot
// accept, such as a form lacking a required field (XEP-0050 §4.6:
// bad-request with <bad-payload/>); text tells the requester what is
// wrong.
func BadPayload(text string) error { return commandError("bad-request", "bad-payload", text) }

// commandError returns a stanza error with a XEP-0050 specific condition.
func commandError(condition, specific, text string) stanza.Error {
	e := stanza.ErrText(condition, text)
	if specific != "" {
		e.Extra = stanza.New(NS, specific)
	}
	return e
}
