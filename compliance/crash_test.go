package compliance_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/internal/testutil"
)

const nsSM = "urn:xmpp:sm:3"

// Load of the crash test: pairs of accounts chatting both ways, an ack
// request after every ackEvery messages, at most maxUnacked messages
// ahead of the server's acknowledgements.
const (
	crashPairs = 4
	ackEvery   = 10
	maxUnacked = 200
	// The server is killed once this many messages were acknowledged in
	// all, and the load has run for at least minLoad.
	killAfterAcked = 1000
	minLoad        = time.Second
)

// chatter is a client of the crash test: it sends messages to its peer
// with stream management (XEP-0198) and notes what the server
// acknowledged, and what it received.
type chatter struct {
	name string
	jid  string
	peer string // the peer's full JID
	s    *testutil.Stream

	wmu sync.Mutex // writes: the sender and the reader's answers to <r/>

	mu       sync.Mutex
	sent     []string // ids in the order sent
	acked    int      // the highest h the server acknowledged: sent[:acked]
	received []string // ids of messages received
	inbound  int      // stanzas received since stream management was enabled
	ackSeen  chan struct{}
}

// login connects name with stream management enabled and initial
// presence sent (before enabling, so that h counts only messages).
func login(t *testing.T, addr, name, password string) *chatter {
	t.Helper()
	s := testutil.DialStream(t, addr, testutil.Domain)
	s.StartTLS(testutil.Domain)
	if el := s.Authenticate(msasl.ScramSha256, name, password); el.Local != "success" {
		t.Fatalf("login %s: %s", name, el)
	}
	s.Open(testutil.Domain)
	full := s.Bind("load")
	s.Write("<presence/>")
	s.Write("<enable xmlns='" + nsSM + "'/>")
	for {
		el := s.Next()
		if el.Space == nsSM && el.Local == "enabled" {
			break
		}
		if el.Space == nsSM && el.Local == "failed" {
			t.Fatalf("%s: stream management refused: %s", name, el)
		}
	}
	s.Conn.SetReadDeadline(time.Time{})
	return &chatter{name: name, jid: full, s: s, ackSeen: make(chan struct{}, 1)}
}

func (c *chatter) write(raw string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.s.Conn.Write([]byte(raw))
	return err
}

// read handles what the server sends until the stream ends: acks, ack
// requests and messages.
func (c *chatter) read() {
	for {
		el, err := c.s.RD.Next()
		if err != nil {
			c.notify()
			return
		}
		switch {
		case el.Space == nsSM && el.Local == "a":
			h, err := strconv.Atoi(el.Attr("h"))
			c.mu.Lock()
			if err == nil && h > c.acked {
				c.acked = min(h, len(c.sent))
			}
			c.mu.Unlock()
			c.notify()
		case el.Space == nsSM && el.Local == "r":
			c.mu.Lock()
			h := c.inbound
			c.mu.Unlock()
			c.write(fmt.Sprintf("<a xmlns='%s' h='%d'/>", nsSM, h))
		case el.Kind() != "":
			c.mu.Lock()
			c.inbound++
			if el.Kind() == "message" && el.Type() != "error" && el.ChildText("", "body") != "" {
				c.received = append(c.received, el.ID())
			}
			c.mu.Unlock()
		}
	}
}

func (c *chatter) notify() {
	select {
	case c.ackSeen <- struct{}{}:
	default:
	}
}

// send sends messages to the peer until stop is closed or the stream
// fails, keeping at most maxUnacked unacknowledged.
func (c *chatter) send(stop <-chan struct{}) {
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		for {
			c.mu.Lock()
			ahead := len(c.sent) - c.acked
			c.mu.Unlock()
			if ahead < maxUnacked {
				break
			}
			select {
			case <-stop:
				return
			case <-c.ackSeen:
			case <-time.After(time.Second):
				return // the server stopped answering
			}
		}
		id := fmt.Sprintf("%s-%d", c.name, n)
		c.mu.Lock()
		c.sent = append(c.sent, id)
		c.mu.Unlock()
		raw := fmt.Sprintf("<message to='%s' type='chat' id='%s'><body>message %d from %s</body></message>", c.peer, id, n, c.name)
		if n%ackEvery == 0 {
			raw += "<r xmlns='" + nsSM + "'/>"
		}
		if err := c.write(raw); err != nil {
			return
		}
	}
}

func (c *chatter) ackedIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sent[:c.acked]...)
}

func (c *chatter) receivedIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.received...)
}

// TestArchiveSurvivesKillUnderLoad kills the parley binary with SIGKILL
// while pairs of clients chat with stream management, and starts it
// again on the same data: the archive verifies, and holds exactly once
// every message the server acknowledged to its sender (XEP-0198) and
// every message a recipient received, whatever had not yet left the ring
// for the segment files being recovered at the restart; the chain goes on
// after it.
func TestArchiveSurvivesKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the parley binary")
	}
	dir := t.TempDir()
	bin, err := testutil.BuildParley(dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := testutil.FreeAddr(t)
	config := filepath.Join(dir, "config.toml")
	conf := fmt.Sprintf(`[server]
domains = [%q]

[storage]
sqlite = "data/parley.db"

[c2s]
listen = %q

[archive]
enabled = true

[log]
level = "info"
`, testutil.Domain, addr)
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var accounts strings.Builder
	for i := range 2 * crashPairs {
		fmt.Fprintf(&accounts, "u%d@%s u%d-pw\n", i, testutil.Domain, i)
	}
	if r := testutil.RunParley(t, bin, accounts.String(), "adduser", "-config", config, "-batch"); r.Code != 0 {
		t.Fatalf("adduser: %d %s", r.Code, r.Stderr)
	}

	p := testutil.StartParley(t, bin, config, addr)
	var cs []*chatter
	for i := range 2 * crashPairs {
		cs = append(cs, login(t, addr, fmt.Sprintf("u%d", i), fmt.Sprintf("u%d-pw", i)))
	}
	for i := 0; i < len(cs); i += 2 {
		cs[i].peer, cs[i+1].peer = cs[i+1].jid, cs[i].jid
	}
	stop := make(chan struct{})
	var readers, senders sync.WaitGroup
	for _, c := range cs {
		readers.Add(1)
		go func() { defer readers.Done(); c.read() }()
		senders.Add(1)
		go func() { defer senders.Done(); c.send(stop) }()
	}
	totalAcked := func() int {
		n := 0
		for _, c := range cs {
			c.mu.Lock()
			n += c.acked
			c.mu.Unlock()
		}
		return n
	}
	start := time.Now()
	for totalAcked() < killAfterAcked || time.Since(start) < minLoad {
		if time.Since(start) > 30*time.Second {
			close(stop)
			t.Fatalf("only %d messages acknowledged in 30s", totalAcked())
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Kill()
	loadTime := time.Since(start)
	close(stop)
	senders.Wait()
	for _, c := range cs {
		c.s.Conn.Close()
	}
	readers.Wait()

	acked, delivered, sent := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range cs {
		for _, id := range c.ackedIDs() {
			acked[id] = true
		}
		for _, id := range c.receivedIDs() {
			delivered[id] = true
		}
		c.mu.Lock()
		for _, id := range c.sent {
			sent[id] = true
		}
		c.mu.Unlock()
	}
	t.Logf("killed after %v of load: %d messages sent, %d acknowledged, %d delivered",
		loadTime.Round(time.Millisecond), len(sent), len(acked), len(delivered))

	// Straight after the crash, before any restart, the export recovers
	// what only the ring held and finds every acknowledged and delivered
	// message.
	r0 := testutil.RunParley(t, bin, "", "archive", "export", "-config", config)
	if r0.Code != 0 {
		t.Fatalf("archive export after the crash: exit %d: %s", r0.Code, r0.Stderr)
	}
	inExport := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(r0.Stdout), "\n") {
		var e struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		inExport[e.ID] = true
	}
	for id := range acked {
		if !inExport[id] {
			t.Errorf("acknowledged %s is not in the export made straight after the crash", id)
		}
	}
	for id := range delivered {
		if !inExport[id] {
			t.Errorf("delivered %s is not in the export made straight after the crash", id)
		}
	}

	// The restart finds the chain as the export left it, and it goes on.
	p2 := testutil.StartParley(t, bin, config, addr)
	recovered := recoveredRecords(t, p2.Output())
	t.Logf("the restart recovered %d records from the ring", recovered)
	a := login(t, addr, "u0", "u0-pw")
	b := login(t, addr, "u1", "u1-pw")
	go b.read()
	a.write(fmt.Sprintf("<message to='%s' type='chat' id='after-restart'><body>back again</body></message><r xmlns='%s'/>", b.jid, nsSM))
	deadline := time.Now().Add(testutil.Timeout)
	for len(b.receivedIDs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the message sent after the restart was not delivered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	p2.Signal(syscall.SIGTERM)
	if code := p2.Wait(20 * time.Second); code != 0 {
		t.Errorf("parley serve exited with %d after SIGTERM", code)
	}

	r := testutil.RunParley(t, bin, "", "archive", "verify", "-config", config)
	t.Logf("parley archive verify: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "archive intact: ") {
		t.Fatalf("archive verify after the crash: exit %d: %s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = testutil.RunParley(t, bin, "", "archive", "export", "-config", config)
	if r.Code != 0 {
		t.Fatalf("archive export: exit %d: %s", r.Code, r.Stderr)
	}
	count := map[string]int{}
	var last struct {
		Seq uint64 `json:"seq"`
		ID  string `json:"id"`
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	for i, l := range lines {
		var e struct {
			Seq  uint64 `json:"seq"`
			ID   string `json:"id"`
			Body string `json:"body"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		if e.Seq != uint64(i+1) {
			t.Fatalf("export line %d has seq %d", i+1, e.Seq)
		}
		count[e.ID]++
		last.Seq, last.ID = e.Seq, e.ID
	}
	t.Logf("the archive holds %d records", len(lines))
	var missingAcked, missingDelivered, twice, unknown []string
	for id := range acked {
		if count[id] == 0 {
			missingAcked = append(missingAcked, id)
		}
	}
	for id := range delivered {
		if count[id] == 0 {
			missingDelivered = append(missingDelivered, id)
		}
	}
	for id, n := range count {
		if n > 1 {
			twice = append(twice, id)
		}
		if !sent[id] && id != "after-restart" {
			unknown = append(unknown, id)
		}
	}
	for what, ids := range map[string][]string{
		"acknowledged messages missing from the archive": missingAcked,
		"delivered messages missing from the archive":    missingDelivered,
		"messages archived more than once":               twice,
		"archived messages nobody sent":                  unknown,
	} {
		if len(ids) > 0 {
			t.Errorf("%d %s: %s", len(ids), what, strings.Join(ids[:min(len(ids), 20)], " "))
		}
	}
	if last.ID != "after-restart" {
		t.Errorf("the last record is %q (seq %d), want the message sent after the restart", last.ID, last.Seq)
	}
}

// recoveredRecords reads how many records the server said it recovered
// from the ring at start-up (0 if it said nothing).
func recoveredRecords(t *testing.T, output string) int {
	t.Helper()
	for _, l := range strings.Split(output, "\n") {
		if !strings.Contains(l, "recovered records written before a crash") {
			continue
		}
		var e struct {
			Records *int `json:"records"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Records == nil {
			t.Fatalf("log line %q: %v", l, errors.Join(err, errors.New("no records count")))
		}
		return *e.Records
	}
	return 0
}
