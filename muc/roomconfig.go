package muc

// Values of RoomConfig.AllowPM: who may send private messages.
const (
	PMAnyone       = "anyone"
	PMParticipants = "participants"
	PMModerators   = "moderators"
	PMNone         = "none"
)

// RoomConfig is a room's configuration, as set through the
// muc#roomconfig form (XEP-0045 §10.2). It is stored as JSON.
type RoomConfig struct {
	Name          string `json:"name,omitempty"`
	Description   string `json:"description,omitempty"`
	Persistent    bool   `json:"persistent"`
	Public        bool   `json:"public"`
	MembersOnly   bool   `json:"members_only"`
	Moderated     bool   `json:"moderated"`
	Password      string `json:"password,omitempty"` // non-empty: password-protected
	NonAnonymous  bool   `json:"non_anonymous"`      // whois anyone
	MaxUsers      int    `json:"max_users"`
	ChangeSubject bool   `json:"change_subject"` // participants may change the subject
	AllowInvites  bool   `json:"allow_invites"`  // occupants may invite others; moderators always may
	AllowPM       string `json:"allow_pm"`
	HistoryLength int    `json:"history_length"` // messages replayed; 0: no history
	Logging       bool   `json:"logging"`        // store messages (persistent rooms)
}

// newRoomConfig returns the configuration of a new room under p.
func newRoomConfig(p Policy) RoomConfig {
	d := p.Defaults
	c := RoomConfig{
		Persistent:    d.Persistent,
		Public:        d.Public,
		MembersOnly:   d.MembersOnly,
		Moderated:     d.Moderated,
		NonAnonymous:  d.NonAnonymous,
		MaxUsers:      p.MaxOccupants,
		ChangeSubject: true,
		AllowPM:       PMAnyone,
		Logging:       d.Logging,
	}
	if d.History {
		c.HistoryLength = p.HistoryLength
	}
	return c
}

// clamp brings stored values within the current policy's limits, since
// the operator may have lowered them since the room was configured.
func (c RoomConfig) clamp(p Policy) RoomConfig {
	if c.MaxUsers <= 0 || c.MaxUsers > p.MaxOccupants {
		c.MaxUsers = p.MaxOccupants
	}
	if c.HistoryLength > p.HistoryLength {
		c.HistoryLength = p.HistoryLength
	}
	if c.HistoryLength < 0 {
		c.HistoryLength = 0
	}
	switch c.AllowPM {
	case PMAnyone, PMParticipants, PMModerators, PMNone:
	default:
		c.AllowPM = PMAnyone
	}
	return c
}

// logged reports whether the room's messages are stored.
func (c RoomConfig) logged() bool { return c.Persistent && c.Logging }
