package muc

import (
	"fmt"
	"parley/dataform"
	"strconv"
	"strings"

	"parley/stanza"
)

// Fields of the muc#roomconfig form (XEP-0045 §15.5.3).
const (
	fieldName          = "muc#roomconfig_roomname"
	fieldDescription   = "muc#roomconfig_roomdesc"
	fieldPersistent    = "muc#roomconfig_persistentroom"
	fieldPublic        = "muc#roomconfig_publicroom"
	fieldMembersOnly   = "muc#roomconfig_membersonly"
	fieldModerated     = "muc#roomconfig_moderatedroom"
	fieldPasswordOn    = "muc#roomconfig_passwordprotectedroom"
	fieldPassword      = "muc#roomconfig_roomsecret"
	fieldWhois         = "muc#roomconfig_whois"
	fieldMaxUsers      = "muc#roomconfig_maxusers"
	fieldChangeSubject = "muc#roomconfig_changesubject"
	fieldAllowInvites  = "muc#roomconfig_allowinvites"
	fieldAllowPM       = "muc#roomconfig_allowpm"
	fieldLogging       = "muc#roomconfig_enablelogging"
	// fieldHistory is not in XEP-0045's registry; Prosody, Tigase and
	// ejabberd use it for the history length. fieldHistoryAlias is
	// Prosody's name in its configuration form, accepted too.
	fieldHistory      = "muc#maxhistoryfetch"
	fieldHistoryAlias = "muc#roomconfig_historylength"
)

// configForm renders c as the muc#roomconfig form an owner fills in.
func configForm(room string, c RoomConfig, p Policy) *stanza.Element {
	x := dataform.New("form", NSRoomConfig)
	x.Children = append([]stanza.Node{
		stanza.New(NSData, "title").AppendText("Configuration of " + room),
		stanza.New(NSData, "instructions").AppendText("Submit the form to apply the configuration; an empty form keeps it."),
	}, x.Children...)
	whois := "moderators"
	if c.NonAnonymous {
		whois = "anyone"
	}
	x.Append(
		dataform.Field(fieldName, "text-single", "Room name", c.Name),
		dataform.Field(fieldDescription, "text-single", "Description", c.Description),
		dataform.Field(fieldPersistent, "boolean", "Keep the room when the last occupant leaves", dataform.FormatBoolean(c.Persistent)),
		dataform.Field(fieldPublic, "boolean", "List the room in the directory", dataform.FormatBoolean(c.Public)),
		dataform.Field(fieldMembersOnly, "boolean", "Only members may enter", dataform.FormatBoolean(c.MembersOnly)),
		dataform.Field(fieldModerated, "boolean", "Only participants with voice may speak", dataform.FormatBoolean(c.Moderated)),
		dataform.Field(fieldPasswordOn, "boolean", "Require a password to enter", dataform.FormatBoolean(c.Password != "")),
		dataform.Field(fieldPassword, "text-private", "Password", c.Password),
		dataform.WithOptions(dataform.Field(fieldWhois, "list-single", "Who may see occupants' real addresses", whois),
			"Moderators only", "moderators", "Anyone", "anyone"),
		dataform.WithOptions(dataform.Field(fieldMaxUsers, "list-single", "Maximum number of occupants", strconv.Itoa(c.MaxUsers)),
			maxUserOptions(p.MaxOccupants)...),
		dataform.Field(fieldChangeSubject, "boolean", "Participants may change the subject", dataform.FormatBoolean(c.ChangeSubject)),
		dataform.Field(fieldAllowInvites, "boolean", "Occupants may invite others (moderators always may)", dataform.FormatBoolean(c.AllowInvites)),
		dataform.WithOptions(dataform.Field(fieldAllowPM, "list-single", "Who may send private messages", c.AllowPM),
			"Anyone", PMAnyone, "Participants", PMParticipants, "Moderators", PMModerators, "Nobody", PMNone),
		dataform.Field(fieldHistory, "text-single", fmt.Sprintf("Messages replayed to new occupants (0 to %d)", p.HistoryLength), strconv.Itoa(c.HistoryLength)),
		dataform.Field(fieldLogging, "boolean", "Store messages on the server (persistent rooms)", dataform.FormatBoolean(c.Logging)),
	)
	return x
}

// maxUserOptions lists choices for the occupant limit up to max, as
// label/value pairs.
func maxUserOptions(max int) []string {
	var out []string
	for _, n := range []int{10, 20, 30, 50, 100, 200, 500, 1000} {
		if n < max {
			out = append(out, strconv.Itoa(n), strconv.Itoa(n))
		}
	}
	return append(out, strconv.Itoa(max), strconv.Itoa(max))
}

// applyConfigForm returns cur changed by the fields of a submitted
// muc#roomconfig form; fields left out keep their value, so an empty
// form accepts the current configuration (XEP-0045 §10.1.2). Errors are
// stanza errors naming the field.
func applyConfigForm(f dataform.Form, cur RoomConfig, p Policy) (RoomConfig, error) {
	if t := f.FormType(); t != "" && t != NSRoomConfig {
		return cur, stanza.ErrText("bad-request", "the form's FORM_TYPE is not "+NSRoomConfig)
	}
	c := cur
	text := func(name string, dst *string) {
		if v, ok := f.Value(name); ok {
			*dst = strings.TrimSpace(v)
		}
	}
	var err error
	boolean := func(name string, dst *bool) {
		v, ok := f.Value(name)
		if !ok || err != nil {
			return
		}
		b, valid := dataform.ParseBoolean(v)
		if !valid {
			err = stanza.ErrText("bad-request", fmt.Sprintf("%s: %q is not a boolean", name, v))
			return
		}
		*dst = b
	}
	text(fieldName, &c.Name)
	text(fieldDescription, &c.Description)
	boolean(fieldPersistent, &c.Persistent)
	boolean(fieldPublic, &c.Public)
	boolean(fieldMembersOnly, &c.MembersOnly)
	boolean(fieldModerated, &c.Moderated)
	boolean(fieldChangeSubject, &c.ChangeSubject)
	boolean(fieldAllowInvites, &c.AllowInvites)
	boolean(fieldLogging, &c.Logging)
	protected := cur.Password != ""
	boolean(fieldPasswordOn, &protected)
	if err != nil {
		return cur, err
	}
	if v, ok := f.Value(fieldPassword); ok {
		c.Password = v
	}
	if _, ok := f.Value(fieldPasswordOn); ok && !protected {
		c.Password = ""
	}
	if protected && c.Password == "" {
		return cur, stanza.ErrText("not-acceptable", fieldPasswordOn+": a password-protected room needs a password in "+fieldPassword)
	}
	if v, ok := f.Value(fieldWhois); ok {
		switch v {
		case "moderators":
			c.NonAnonymous = false
		case "anyone":
			c.NonAnonymous = true
		default:
			return cur, stanza.ErrText("not-acceptable", fmt.Sprintf("%s: %q is not moderators or anyone", fieldWhois, v))
		}
	}
	if v, ok := f.Value(fieldMaxUsers); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case v == "none" || v == "" || (err == nil && n == 0):
			c.MaxUsers = p.MaxOccupants
		case err != nil || n < 1 || n > p.MaxOccupants:
			return cur, stanza.ErrText("not-acceptable", fmt.Sprintf("%s: %q is not a number from 1 to %d", fieldMaxUsers, v, p.MaxOccupants))
		default:
			c.MaxUsers = n
		}
	}
	if v, ok := f.Value(fieldAllowPM); ok {
		switch v {
		case PMAnyone, PMParticipants, PMModerators, PMNone:
			c.AllowPM = v
		default:
			return cur, stanza.ErrText("not-acceptable", fmt.Sprintf("%s: %q is not anyone, participants, moderators or none", fieldAllowPM, v))
		}
	}
	for _, name := range []string{fieldHistoryAlias, fieldHistory} {
		v, ok := f.Value(name)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > p.HistoryLength {
			return cur, stanza.ErrText("not-acceptable", fmt.Sprintf("%s: %q is not a number from 0 to %d", name, v, p.HistoryLength))
		}
		c.HistoryLength = n
	}
	return c, nil
}
