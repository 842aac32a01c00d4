package stanza

// Error types of RFC 6120 §8.3.2.
const (
	ErrorAuth     = "auth"
	ErrorCancel   = "cancel"
	ErrorContinue = "continue"
	ErrorModify   = "modify"
	ErrorWait     = "wait"
)

// Stanza error conditions of RFC 6120 §8.3.3 with their default types.
var conditionTypes = map[string]string{
	"bad-request":             ErrorModify,
	"conflict":                ErrorCancel,
	"feature-not-implemented": ErrorCancel,
	"forbidden":               ErrorAuth,
	"gone":                    ErrorCancel,
	"internal-server-error":   ErrorCancel,
	"item-not-found":          ErrorCancel,
	"jid-malformed":           ErrorModify,
	"not-acceptable":          ErrorModify,
	"not-allowed":             ErrorCancel,
	"not-authorized":          ErrorAuth,
	"policy-violation":        ErrorModify,
	"recipient-unavailable":   ErrorWait,
	"redirect":                ErrorModify,
	"registration-required":   ErrorAuth,
	"remote-server-not-found": ErrorCancel,
	"remote-server-timeout":   ErrorWait,
	"resource-constraint":     ErrorWait,
	"service-unavailable":     ErrorCancel,
	"subscription-required":   ErrorAuth,
	"undefined-condition":     ErrorCancel,
	"unexpected-request":      ErrorWait,
}

// legacyCodes are the XEP-0086 error codes of the defined conditions,
// written beside the condition for clients that still read them.
var legacyCodes = map[string]string{
	"bad-request":             "400",
	"conflict":                "409",
	"feature-not-implemented": "501",
	"forbidden":               "403",
	"gone":                    "302",
	"internal-server-error":   "500",
	"item-not-found":          "404",
	"jid-malformed":           "400",
	"not-acceptable":          "406",
	"not-allowed":             "405",
	"not-authorized":          "401",
	"policy-violation":        "406",
	"recipient-unavailable":   "404",
	"redirect":                "302",
	"registration-required":   "407",
	"remote-server-not-found": "404",
	"remote-server-timeout":   "504",
	"resource-constraint":     "500",
	"service-unavailable":     "503",
	"subscription-required":   "407",
	"undefined-condition":     "500",
	"unexpected-request":      "400",
}

// Error describes a stanza error to send back.
type Error struct {
	Type      string // one of the Error* types; "" takes the condition's default
	Condition string // RFC 6120 defined condition, e.g. "service-unavailable"
	Text      string // optional human-readable text
	By        string // optional 'by' attribute
	Extra     *Element
}

// Err returns a stanza error for condition with its default type.
func Err(condition string) Error { return Error{Condition: condition} }

// ErrText returns a stanza error for condition with a descriptive text.
func ErrText(condition, text string) Error { return Error{Condition: condition, Text: text} }

// Error implements error.
func (e Error) Error() string {
	if e.Text != "" {
		return e.Condition + ": " + e.Text
	}
	return e.Condition
}

// Element renders the <error/> child, with the legacy code (XEP-0086)
// of the condition.
func (e Error) Element() *Element {
	typ := e.Type
	if typ == "" {
		typ = conditionTypes[e.Condition]
		if typ == "" {
			typ = ErrorCancel
		}
	}
	el := New("", "error", "type", typ)
	if code := legacyCodes[e.Condition]; code != "" {
		el.SetAttr("code", code)
	}
	if e.By != "" {
		el.SetAttr("by", e.By)
	}
	el.Append(New(NSStanzas, e.Condition))
	if e.Text != "" {
		el.Append(New(NSStanzas, "text").AppendText(e.Text))
	}
	if e.Extra != nil {
		el.Append(e.Extra)
	}
	return el
}

// IsError reports whether the stanza is an error stanza.
func IsError(s *Element) bool { return s.Attr("type") == "error" }

// ErrorReply builds the error response to s per RFC 6120 §8.3.1: to and from
// swapped, type error, the original payload kept, and the error appended.
// It returns nil when s is itself an error, or an iq result: neither is
// ever answered (RFC 6120 §8.2.3).
func ErrorReply(s *Element, e Error) *Element {
	if IsError(s) || s.Local == "iq" && s.Type() == "result" {
		return nil
	}
	r := &Element{Space: s.Space, Local: s.Local, Attrs: s.AttrsWithout("to", "from", "type"), Children: append([]Node(nil), s.Children...)}
	if from := s.From(); from != "" {
		r.SetAttr("to", from)
	}
	if to := s.To(); to != "" {
		r.SetAttr("from", to)
	}
	r.SetAttr("type", "error")
	if s.Local == "iq" {
		r.Children = nil // an iq error need not echo the request payload
		if p := s.FirstElement(); p != nil {
			r.Children = []Node{p}
		}
	}
	el := e.Element()
	r.Children = append(r.Children, el)
	return r
}

// Result builds an empty iq result for the iq request s, addressed back.
func Result(s *Element) *Element {
	r := &Element{Space: s.Space, Local: "iq"}
	r.SetAttr("type", "result").SetAttr("id", s.ID())
	if from := s.From(); from != "" {
		r.SetAttr("to", from)
	}
	if to := s.To(); to != "" {
		r.SetAttr("from", to)
	}
	return r
}
