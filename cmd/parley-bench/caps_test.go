package main

import (
	"strings"
	"testing"

	"parley/entitycaps"
	"parley/stanza"
)

func TestCapsVer(t *testing.T) {
	// The simple generation example of XEP-0115 §5.2.
	got := capsVer([3]string{"client", "pc", "Exodus 0.9.1"}, []string{
		"http://jabber.org/protocol/caps",
		"http://jabber.org/protocol/disco#info",
		"http://jabber.org/protocol/disco#items",
		"http://jabber.org/protocol/muc",
	})
	if want := "QgayPKawpkPSDYmwT/WM94uAlu0="; got != want {
		t.Errorf("capsVer = %q, want %q", got, want)
	}
}

// The disco#info answer of every profile hashes, as the server computes
// it, to the ver its presence advertises.
func TestCapsProfileAnswerMatchesVer(t *testing.T) {
	for _, features := range [][]string{
		{nsCaps, nsDiscoInfo, pepNode + "+notify"},
		{pepNode + "+notify", nsDiscoInfo, nsCaps, nsDiscoInfo},
		{nsCaps, nsDiscoInfo},
	} {
		c := newCapsProfile(features)
		req := []byte("<iq type='get' id='disco' from='user1@bench.test' to='user2@bench.test/r'>" +
			"<query xmlns='" + nsDiscoInfo + "' node='" + capsNode + "#" + c.ver + "'/></iq>")
		end, _ := tagEnd(req)
		reply := c.discoInfoReply(req, req[end:], "disco", " to='user1@bench.test'")
		el, err := stanza.ParseBytes([]byte(reply))
		if err != nil {
			t.Fatalf("reply %q: %v", reply, err)
		}
		q := el.Child(nsDiscoInfo, "query")
		if q == nil || q.Attr("node") != capsNode+"#"+c.ver {
			t.Fatalf("reply %q lacks the query with the requested node", reply)
		}
		ver, err := entitycaps.Ver(q)
		if err != nil || ver != c.ver {
			t.Errorf("features %v: server computes %q (%v), presence advertises %q", features, ver, err, c.ver)
		}
		if !strings.Contains(c.presence, "ver='"+c.ver+"'") || !strings.Contains(c.presence, "hash='sha-1'") {
			t.Errorf("presence %q does not advertise the hash", c.presence)
		}
	}
	// Anything but a disco#info get is not answered with capabilities.
	c := newCapsProfile([]string{nsCaps})
	for _, req := range []string{
		"<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>",
		"<iq type='set' id='s'><query xmlns='" + nsDiscoInfo + "'/></iq>",
	} {
		end, _ := tagEnd([]byte(req))
		if r := c.discoInfoReply([]byte(req), []byte(req)[end:], "x", ""); r != "" {
			t.Errorf("%s answered with %q", req, r)
		}
	}
}
