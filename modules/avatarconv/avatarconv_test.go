package avatarconv_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/entitycaps"
	"parley/internal/testutil"
	"parley/modules/avatarconv"
	"parley/modules/pep"
	"parley/pubsub"
	"parley/stanza"
)

func pngImage(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegImage(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha(data []byte) string {
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

// online sends c's available presence with capabilities asking for the
// notifications of nodes, and answers the server's disco#info query.
func online(t *testing.T, c *testutil.Client, notify ...string) {
	t.Helper()
	q := stanza.New(entitycaps.NSDiscInfo, "query")
	q.Append(stanza.New(entitycaps.NSDiscInfo, "identity", "category", "client", "type", "pc", "name", "test"))
	q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", "urn:test:client:"+c.JID))
	for _, n := range notify {
		q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", n+"+notify"))
	}
	ver, err := entitycaps.Ver(q)
	if err != nil {
		t.Fatal(err)
	}
	c.Sendf("<presence><c xmlns='%s' hash='sha-1' node='urn:test' ver='%s'/></presence>", entitycaps.NS, ver)
	get := c.Expect(func(el *stanza.Element) bool {
		return el.Local == "iq" && el.Type() == "get" && el.Child(entitycaps.NSDiscInfo, "query") != nil
	})
	c.Sendf("<iq type='result' id='%s' to='%s'>%s</iq>", get.ID(), get.From(), q.Copy().SetAttr("node", "urn:test#"+ver))
	if res := c.IQ("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>"); res.Type() != "result" {
		t.Fatalf("ping: %s", res)
	}
}

func publish(t *testing.T, c *testutil.Client, node, id, payload string) {
	t.Helper()
	res := c.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><publish node='%s'><item id='%s'>%s</item></publish></pubsub></iq>",
		pubsub.NS, node, id, payload))
	if res.Type() != "result" {
		t.Fatalf("publish to %s: %s", node, res)
	}
}

// publishAvatar publishes data and its metadata as a XEP-0084 client does.
func publishAvatar(t *testing.T, c *testutil.Client, data []byte, typ string) {
	t.Helper()
	id := sha(data)
	publish(t, c, avatarconv.NSData, id, "<data xmlns='urn:xmpp:avatar:data'>"+b64(data)+"</data>")
	publish(t, c, avatarconv.NSMetadata, id, fmt.Sprintf("<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='%d' id='%s' type='%s'/></metadata>", len(data), id, typ))
}

// vcardPhoto returns the TYPE and decoded BINVAL of owner's vCard as
// c reads it ("" and nil without a PHOTO).
func vcardPhoto(t *testing.T, c *testutil.Client, owner string) (string, []byte) {
	t.Helper()
	res := c.IQ("<iq type='get' to='" + owner + "'><vCard xmlns='vcard-temp'/></iq>")
	card := res.Child("vcard-temp", "vCard")
	if res.Type() != "result" || card == nil {
		if testutil.ErrorCondition(res) == "item-not-found" {
			return "", nil
		}
		t.Fatalf("vCard get: %s", res)
	}
	photo := card.Child("vcard-temp", "PHOTO")
	if photo == nil {
		return "", nil
	}
	data, err := base64.StdEncoding.DecodeString(photo.ChildText("vcard-temp", "BINVAL"))
	if err != nil {
		t.Fatalf("BINVAL: %v in %s", err, card)
	}
	return photo.ChildText("vcard-temp", "TYPE"), data
}

func setVCard(t *testing.T, c *testutil.Client, inner string) {
	t.Helper()
	if res := c.IQ("<iq type='set'><vCard xmlns='vcard-temp'>" + inner + "</vCard></iq>"); res.Type() != "result" {
		t.Fatalf("vCard set: %s", res)
	}
}

// lastItem returns the payload of the last item of c's own node, or nil.
func lastItem(t *testing.T, c *testutil.Client, node string) *stanza.Element {
	t.Helper()
	res := c.IQ(fmt.Sprintf("<iq type='get'><pubsub xmlns='%s'><items node='%s' max_items='1'/></pubsub></iq>", pubsub.NS, node))
	if res.Type() != "result" {
		return nil
	}
	it := res.Child(pubsub.NS, "pubsub").Child(pubsub.NS, "items").Child(pubsub.NS, "item")
	if it == nil {
		return nil
	}
	return it.FirstElement()
}

// recorder records the service's events.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) observe(_ context.Context, ev pubsub.Event) {
	s := ev.Node + " " + ev.Item.ID
	if ev.Retracted {
		s += " retracted"
	}
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func TestPEPToVCard(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	rec := &recorder{}
	srv.Module(pep.Name).(*pubsub.Service).Observe(rec.observe)
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	setVCard(t, a, "<FN>Alice</FN>")

	img := pngImage(t, 4, 3)
	publishAvatar(t, a, img, "image/png")
	typ, got := vcardPhoto(t, b, alice)
	if typ != "image/png" || !bytes.Equal(got, img) {
		t.Fatalf("vCard photo %q, %d bytes; want the published PNG", typ, len(got))
	}
	res := b.IQ("<iq type='get' to='" + alice + "'><vCard xmlns='vcard-temp'/></iq>")
	if !strings.Contains(res.String(), "<FN>Alice</FN>") {
		t.Errorf("vCard lost its other fields: %s", res)
	}
	// The vCard written did not come back to personal eventing.
	if got, want := rec.take(), []string{avatarconv.NSData + " " + sha(img), avatarconv.NSMetadata + " " + sha(img)}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}

	// Of several infos, the one without a URL; data whose hash is not its
	// ID is not taken; empty metadata removes the photo.
	jpg := jpegImage(t, 2, 2)
	publish(t, a, avatarconv.NSData, sha(jpg), "<data xmlns='urn:xmpp:avatar:data'>"+b64(jpg)+"</data>")
	publish(t, a, avatarconv.NSMetadata, sha(jpg), fmt.Sprintf("<metadata xmlns='urn:xmpp:avatar:metadata'>"+
		"<info bytes='99' id='0000000000000000000000000000000000000000' type='image/gif' url='https://example.org/a.gif'/>"+
		"<info bytes='%d' id='%s' type='image/jpeg'/></metadata>", len(jpg), sha(jpg)))
	if typ, got := vcardPhoto(t, b, alice); typ != "image/jpeg" || !bytes.Equal(got, jpg) {
		t.Fatalf("vCard photo %q, %d bytes; want the embedded JPEG", typ, len(got))
	}
	bad := pngImage(t, 1, 1)
	publish(t, a, avatarconv.NSData, sha(img), "<data xmlns='urn:xmpp:avatar:data'>"+b64(bad)+"</data>")
	publish(t, a, avatarconv.NSMetadata, sha(img), fmt.Sprintf("<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='%d' id='%s' type='image/png'/></metadata>", len(bad), sha(img)))
	if _, got := vcardPhoto(t, b, alice); !bytes.Equal(got, jpg) {
		t.Errorf("data not matching its ID reached the vCard")
	}
	srv.WaitLog(5*time.Second, "does not match its SHA-1 id")
	publish(t, a, avatarconv.NSMetadata, "off", "<metadata xmlns='urn:xmpp:avatar:metadata'/>")
	if typ, got := vcardPhoto(t, b, alice); typ != "" || got != nil {
		t.Errorf("photo after the avatar was disabled: %q, %d bytes", typ, len(got))
	}
}

func TestVCardToPEP(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	rec := &recorder{}
	srv.Module(pep.Name).(*pubsub.Service).Observe(rec.observe)
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	online(t, b, avatarconv.NSMetadata)

	img := jpegImage(t, 5, 7)
	// Clients wrap BINVAL in lines.
	wrapped := b64(img)
	for i := 60; i < len(wrapped); i += 61 {
		wrapped = wrapped[:i] + "\n" + wrapped[i:]
	}
	card := "<FN>Alice</FN><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>" + wrapped + "</BINVAL></PHOTO>"
	setVCard(t, a, card)
	id := sha(img)
	ev := b.Expect(func(el *stanza.Element) bool {
		e := el.Child(pubsub.NSEvent, "event")
		return el.Local == "message" && e != nil && e.Child(pubsub.NSEvent, "items").Attr("node") == avatarconv.NSMetadata
	})
	info := ev.Child(pubsub.NSEvent, "event").Child(pubsub.NSEvent, "items").Child(pubsub.NSEvent, "item").
		Child(avatarconv.NSMetadata, "metadata").Child(avatarconv.NSMetadata, "info")
	want := fmt.Sprintf("<info xmlns='urn:xmpp:avatar:metadata' bytes='%d' id='%s' type='image/jpeg' width='5' height='7'/>", len(img), id)
	if info == nil || info.String() != want {
		t.Fatalf("metadata notification %s, want info %s", ev, want)
	}
	data := lastItem(t, a, avatarconv.NSData)
	if data == nil || data.Text() != b64(img) {
		t.Errorf("data item %v", data)
	}
	if got, want := rec.take(), []string{avatarconv.NSData + " " + id, avatarconv.NSMetadata + " " + id}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	// The vCard stays as the client stored it.
	res := a.IQ("<iq type='get'><vCard xmlns='vcard-temp'/></iq>")
	if got, want := res.Child("vcard-temp", "vCard").String(), "<vCard xmlns='vcard-temp'>"+card+"</vCard>"; got != strings.ReplaceAll(want, "\n", "&#xA;") && got != want {
		t.Errorf("vCard %s, want %s", got, want)
	}
	// The same photo again publishes nothing.
	setVCard(t, a, "<FN>Alice L.</FN><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>"+b64(img)+"</BINVAL></PHOTO>")
	if got := rec.take(); len(got) != 0 {
		t.Errorf("same photo published again: %v", got)
	}
	// A vCard without a photo disables the avatar.
	setVCard(t, a, "<FN>Alice</FN>")
	md := lastItem(t, a, avatarconv.NSMetadata)
	if md == nil || len(md.Elements()) != 0 {
		t.Errorf("metadata after the photo was removed: %v", md)
	}
	setVCard(t, a, "<FN>Alice</FN>")
	if got := rec.take(); len(got) != 1 {
		t.Errorf("events after removing the photo twice: %v, want one publish", got)
	}
}

// photoOf returns the vcard-temp:x:update photo of presence p: nil when
// absent.
func photoOf(p *stanza.Element) *string {
	x := p.Child(avatarconv.NSUpdate, "x")
	if x == nil || x.Child(avatarconv.NSUpdate, "photo") == nil {
		return nil
	}
	s := x.Child(avatarconv.NSUpdate, "photo").Text()
	return &s
}

func TestPresenceHash(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	b.Send("<presence/>")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	fromAlice := func(el *stanza.Element) bool {
		return el.Local == "presence" && strings.HasPrefix(el.From(), alice+"/") && el.Type() == ""
	}
	// hashSeen sends alice's presence and returns the photo bob gets.
	hashSeen := func(p string) *string {
		t.Helper()
		a.Send(p)
		return photoOf(b.Expect(fromAlice))
	}
	check := func(what, presence, want string) {
		t.Helper()
		got := hashSeen(presence)
		if got == nil || *got != want {
			t.Errorf("%s: photo %v, want %q", what, got, want)
		}
	}
	check("no avatar", "<presence/>", "")

	img := pngImage(t, 2, 2)
	publishAvatar(t, a, img, "image/png")
	check("after a PEP avatar", "<presence><show>away</show></presence>", sha(img))
	check("a wrong hash is corrected", "<presence><x xmlns='vcard-temp:x:update'><photo>0123</photo></x></presence>", sha(img))
	check("an x without a photo gets one", "<presence><x xmlns='vcard-temp:x:update'/></presence>", sha(img))
	check("an empty photo is left alone", "<presence><x xmlns='vcard-temp:x:update'><photo/></x></presence>", "")

	jpg := jpegImage(t, 3, 3)
	setVCard(t, a, "<PHOTO><TYPE>image/jpeg</TYPE><BINVAL>"+b64(jpg)+"</BINVAL></PHOTO>")
	check("after a vCard photo", "<presence/>", sha(jpg))
	// Directed presence carries it too.
	a.Send("<presence to='" + bob + "'/>")
	if got := photoOf(b.Expect(fromAlice)); got == nil || *got != sha(jpg) {
		t.Errorf("directed presence: photo %v", got)
	}
	// The hash is remembered, not read from storage for each presence: a
	// vCard changed behind the server's back does not show.
	if err := srv.Store().PutDocument(context.Background(), alice, "vcard", "", []byte("<vCard xmlns='vcard-temp'/>")); err != nil {
		t.Fatal(err)
	}
	check("remembered", "<presence/>", sha(jpg))
	// Unavailable presence is left alone.
	a.Send("<presence type='unavailable'/>")
	if p := b.Expect(func(el *stanza.Element) bool { return el.Type() == "unavailable" }); photoOf(p) != nil {
		t.Errorf("unavailable presence got a photo: %s", p)
	}
	// Once alice's last session ends, the next one reads the vCard again.
	a.Close()
	a = testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	check("read again", "<presence/>", "")
	// Messages are not touched.
	a.Send("<message to='" + bob + "' type='chat'><body>hi</body></message>")
	if m := b.Expect(testutil.IsKind("message")); len(m.Elements()) != 1 {
		t.Errorf("message changed: %s", m)
	}
}

func TestDiscoFeature(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	res := a.IQ("<iq type='get' to='" + alice + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if !strings.Contains(res.String(), "var='"+avatarconv.Feature+"'") {
		t.Errorf("account disco#info lacks %s: %s", avatarconv.Feature, res)
	}
}
