package pubsub

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"parley/dataform"
	"parley/stanza"
)

// Access models (XEP-0060 §4.5).
const (
	AccessOpen      = "open"      // anyone, federated users included
	AccessPresence  = "presence"  // contacts with a presence subscription to the owner
	AccessRoster    = "roster"    // contacts in the allowed roster groups
	AccessWhitelist = "whitelist" // the owner (and affiliated entities) only
)

// When the last published item is sent (pubsub#send_last_published_item).
const (
	SendLastNever         = "never"
	SendLastOnSub         = "on_sub"
	SendLastOnSubPresence = "on_sub_and_presence"
)

// Form types.
const (
	FormNodeConfig     = NS + "#node_config"
	FormPublishOptions = NS + "#publish-options"
)

// MaxItemsMax is Config.MaxItems for "max": as many as the server keeps.
const MaxItemsMax = -1

// Config is a node's configuration.
type Config struct {
	AccessModel     string   `json:"access_model"`
	RosterGroups    []string `json:"roster_groups,omitempty"`
	MaxItems        int      `json:"max_items"` // MaxItemsMax or at least 1
	PersistItems    bool     `json:"persist_items"`
	SendLast        string   `json:"send_last_published_item"`
	NotifyRetract   bool     `json:"notify_retract"`
	DeliverPayloads bool     `json:"deliver_payloads"`
	Title           string   `json:"title,omitempty"`
	// Members are the bare JIDs with the member affiliation: they may
	// retrieve items and are notified whatever the access model.
	Members []string `json:"members,omitempty"`
}

// DefaultConfig returns the configuration of a node created without one:
// presence access, one item, persistent, last item on presence and
// subscription (XEP-0163 §4.3).
func DefaultConfig() Config {
	return Config{
		AccessModel:     AccessPresence,
		MaxItems:        1,
		PersistItems:    true,
		SendLast:        SendLastOnSubPresence,
		NotifyRetract:   true,
		DeliverPayloads: true,
	}
}

// Field names of the node configuration form.
const (
	fieldAccessModel     = "pubsub#access_model"
	fieldRosterGroups    = "pubsub#roster_groups_allowed"
	fieldMaxItems        = "pubsub#max_items"
	fieldPersistItems    = "pubsub#persist_items"
	fieldSendLast        = "pubsub#send_last_published_item"
	fieldNotifyRetract   = "pubsub#notify_retract"
	fieldDeliverPayloads = "pubsub#deliver_payloads"
	fieldTitle           = "pubsub#title"
)

// apply sets the field name of c from values, refusing unknown fields and
// invalid values with not-acceptable.
func (c *Config) apply(name string, values []string) error {
	first := ""
	if len(values) > 0 {
		first = values[0]
	}
	boolean := func(dst *bool) error {
		b, ok := dataform.ParseBoolean(first)
		if !ok {
			return invalid(name, first, "a boolean")
		}
		*dst = b
		return nil
	}
	switch name {
	case fieldAccessModel:
		switch first {
		case AccessOpen, AccessPresence, AccessRoster, AccessWhitelist:
			c.AccessModel = first
		default:
			return invalid(name, first, "open, presence, roster or whitelist")
		}
	case fieldRosterGroups:
		c.RosterGroups = nil
		for _, g := range values {
			if g != "" && !slices.Contains(c.RosterGroups, g) {
				c.RosterGroups = append(c.RosterGroups, g)
			}
		}
		slices.Sort(c.RosterGroups)
	case fieldMaxItems:
		if first == "max" {
			c.MaxItems = MaxItemsMax
			return nil
		}
		n, err := strconv.Atoi(first)
		if err != nil || n < 1 {
			return invalid(name, first, `a positive number or "max"`)
		}
		c.MaxItems = n
	case fieldPersistItems:
		return boolean(&c.PersistItems)
	case fieldSendLast:
		switch first {
		case SendLastNever, SendLastOnSub, SendLastOnSubPresence:
			c.SendLast = first
		default:
			return invalid(name, first, "never, on_sub or on_sub_and_presence")
		}
	case fieldNotifyRetract:
		return boolean(&c.NotifyRetract)
	case fieldDeliverPayloads:
		return boolean(&c.DeliverPayloads)
	case fieldTitle:
		c.Title = first
	default:
		return stanza.ErrText("not-acceptable", fmt.Sprintf("unknown node configuration field %q", name))
	}
	return nil
}

func invalid(field, value, want string) error {
	return stanza.ErrText("not-acceptable", fmt.Sprintf("%s: %q is not %s", field, value, want))
}

// applyForm applies the fields of a submitted form of formType (a
// FORM_TYPE, when present, must be that) to c.
func (c *Config) applyForm(x *stanza.Element, formType string) error {
	if x == nil || x.Space != dataform.NS || x.Local != "x" {
		return stanza.ErrText("bad-request", "a data form is required")
	}
	f := dataform.Parse(x)
	if f.Type != "submit" {
		return stanza.ErrText("bad-request", "the form must be of type submit")
	}
	if ft := f.FormType(); ft != "" && ft != formType && ft != FormNodeConfig {
		return stanza.ErrText("not-acceptable", fmt.Sprintf("form type %q is not %s", ft, formType))
	}
	for _, name := range fieldOrder(x) {
		if name == "FORM_TYPE" {
			continue
		}
		if err := c.apply(name, f.Values[name]); err != nil {
			return err
		}
	}
	return nil
}

// fieldOrder returns the vars of a form's fields in document order.
func fieldOrder(x *stanza.Element) []string {
	var out []string
	for _, f := range x.ChildrenNamed(dataform.NS, "field") {
		if v := f.Attr("var"); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// matches reports whether c satisfies the preconditions of a
// publish-options form (XEP-0223): every field in it has the value c
// has, max_items compared after clamping to limit. It returns the first
// field that differs, or an error for a form that is not valid.
func (c Config) matches(x *stanza.Element, limit int) (field string, err error) {
	want := c
	if err := want.applyForm(x, FormPublishOptions); err != nil {
		return "", err
	}
	for _, name := range fieldOrder(x) {
		if name == "FORM_TYPE" {
			continue
		}
		same := true
		switch name {
		case fieldMaxItems:
			same = want.keep(limit) == c.keep(limit)
		case fieldRosterGroups:
			same = slices.Equal(want.RosterGroups, c.RosterGroups)
		default:
			same = want.values(limit)[name] == c.values(limit)[name]
		}
		if !same {
			return name, nil
		}
	}
	return "", nil
}

// keep returns how many items the node keeps under the server limit.
func (c Config) keep(limit int) int {
	if c.MaxItems == MaxItemsMax || c.MaxItems > limit {
		return limit
	}
	return max(c.MaxItems, 1)
}

// values returns the single-valued fields as they appear in the form.
func (c Config) values(limit int) map[string]string {
	maxItems := "max"
	if c.MaxItems != MaxItemsMax {
		maxItems = strconv.Itoa(c.keep(limit))
	}
	return map[string]string{
		fieldAccessModel:     c.AccessModel,
		fieldMaxItems:        maxItems,
		fieldPersistItems:    dataform.FormatBoolean(c.PersistItems),
		fieldSendLast:        c.SendLast,
		fieldNotifyRetract:   dataform.FormatBoolean(c.NotifyRetract),
		fieldDeliverPayloads: dataform.FormatBoolean(c.DeliverPayloads),
		fieldTitle:           c.Title,
	}
}

// Form renders c as a node configuration form of type form; groups are
// the owner's roster groups, offered for pubsub#roster_groups_allowed.
func (c Config) Form(limit int, groups []string) *stanza.Element {
	v := c.values(limit)
	x := dataform.New("form", FormNodeConfig)
	x.Append(
		dataform.Field(fieldTitle, "text-single", "A friendly name for the node", v[fieldTitle]),
		dataform.WithOptions(dataform.Field(fieldAccessModel, "list-single", "Who may subscribe and retrieve items", v[fieldAccessModel]),
			"Anyone", AccessOpen, "Contacts with a presence subscription", AccessPresence,
			"Contacts in the allowed roster groups", AccessRoster, "Only the owner", AccessWhitelist),
		rosterGroupsField(c.RosterGroups, groups),
		dataform.Field(fieldMaxItems, "text-single", fmt.Sprintf("Most items to keep (at most %d, or max)", limit), v[fieldMaxItems]),
		dataform.Field(fieldPersistItems, "boolean", "Keep items in storage", v[fieldPersistItems]),
		dataform.WithOptions(dataform.Field(fieldSendLast, "list-single", "When to send the last published item", v[fieldSendLast]),
			"Never", SendLastNever, "When a new subscription is processed", SendLastOnSub,
			"On subscription and when a subscriber becomes available", SendLastOnSubPresence),
		dataform.Field(fieldNotifyRetract, "boolean", "Notify subscribers when items are removed", v[fieldNotifyRetract]),
		dataform.Field(fieldDeliverPayloads, "boolean", "Deliver payloads with event notifications", v[fieldDeliverPayloads]),
	)
	return x
}

// rosterGroupsField offers the owner's roster groups, and any allowed
// group no longer in the roster, as a list-multi field.
func rosterGroupsField(allowed, groups []string) *stanza.Element {
	f := dataform.Field(fieldRosterGroups, "list-multi", "Roster groups allowed to subscribe", allowed...)
	all := slices.Clone(groups)
	for _, g := range allowed {
		if !slices.Contains(all, g) {
			all = append(all, g)
		}
	}
	slices.Sort(all)
	for _, g := range all {
		dataform.WithOptions(f, g, g)
	}
	return f
}

// encode serializes c for storage.
// clone returns c with lists of its own.
func (c Config) clone() Config {
	c.RosterGroups = slices.Clone(c.RosterGroups)
	c.Members = slices.Clone(c.Members)
	return c
}

func (c Config) encode() []byte {
	b, _ := json.Marshal(c) // a struct of strings, ints and bools
	return b
}

// decodeConfig reads a stored configuration; fields missing from it take
// their defaults.
func decodeConfig(b []byte) (Config, error) {
	c := DefaultConfig()
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("decode node configuration: %w", err)
	}
	return c, nil
}
