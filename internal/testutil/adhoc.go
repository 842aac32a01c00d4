package testutil

import (
	"fmt"
	"strings"

	"parley/adhoc"
	"parley/stanza"
)

// RunCommand sends an ad-hoc command request (XEP-0050) to to, with the
// command element's attributes attrs and content inner, and returns the
// response.
func RunCommand(c *Client, to, attrs, inner string) *stanza.Element {
	c.T.Helper()
	return c.IQ(fmt.Sprintf("<iq type='set' to='%s'><command xmlns='%s' %s>%s</command></iq>", to, adhoc.NS, attrs, inner))
}

// SubmitForm renders a submitted data form of field/value pairs.
func SubmitForm(pairs ...string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'>")
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", pairs[i], pairs[i+1])
	}
	b.WriteString("</x>")
	return b.String()
}
