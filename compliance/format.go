package compliance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"parley/stanza"
)

// jsonEntry is an archived message as a line of JSON.
type jsonEntry struct {
	Seq       uint64   `json:"seq"`
	Time      string   `json:"time"`
	Direction string   `json:"direction"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Sender    string   `json:"sender"`
	Recipient string   `json:"recipient"`
	Type      string   `json:"type"`
	ID        string   `json:"id"`
	Body      string   `json:"body"`
	Encrypted string   `json:"encrypted,omitempty"`
	Links     []string `json:"links,omitempty"`
	Stanza    string   `json:"stanza"`
	Hash      string   `json:"hash"`
}

// JSONWriter writes archived messages as JSON Lines.
type JSONWriter struct {
	enc *json.Encoder
}

// NewJSONWriter returns a writer of JSON Lines to w.
func NewJSONWriter(w io.Writer) *JSONWriter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONWriter{enc: enc}
}

// Write writes e as one line.
func (w *JSONWriter) Write(e Entry) error {
	je := jsonEntry{
		Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Direction: e.Direction.String(),
		From: e.From, To: e.To, Sender: e.Sender, Recipient: e.Recipient, Type: e.Type, ID: e.ID,
		Stanza: string(e.Stanza), Hash: e.Hash.String(),
	}
	if el, err := e.Message(); err == nil {
		je.Body = el.ChildText("", "body")
		je.Encrypted = stanza.MessageContent(el).Encrypted
		je.Links = links(el)
	}
	return w.enc.Encode(je)
}

// links returns the attachment links of a message.
func links(el *stanza.Element) []string {
	var out []string
	for _, x := range el.ChildrenNamed(stanza.NSOOB, "x") {
		if u := x.ChildText("", "url"); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// TranscriptWriter writes archived messages as a transcript people read:
// a line per message, "[hh:mm:ss] who: text", under a line per day.
type TranscriptWriter struct {
	w   *bufio.Writer
	day string
	n   int
}

// NewTranscriptWriter returns a transcript writer to w, which starts with
// a title line.
func NewTranscriptWriter(w io.Writer, title string) *TranscriptWriter {
	t := &TranscriptWriter{w: bufio.NewWriter(w)}
	if title != "" {
		fmt.Fprintf(t.w, "# %s\n", title)
	}
	return t
}

// Write writes e.
func (t *TranscriptWriter) Write(e Entry) error {
	ts := e.Time.UTC()
	if day := ts.Format("2006-01-02 (Monday)"); day != t.day {
		if t.n > 0 {
			t.w.WriteByte('\n')
		}
		fmt.Fprintf(t.w, "--- %s ---\n", day)
		t.day = day
	}
	t.n++
	who := speaker(e)
	text := ""
	if el, err := e.Message(); err == nil {
		c := stanza.MessageContent(el)
		text = el.ChildText("", "body")
		switch {
		case c.Encrypted != "" && (text == "" || c.Encrypted != "OTR"):
			text = fmt.Sprintf("[%s encrypted message]", c.Encrypted)
		}
		for _, l := range links(el) {
			if !strings.Contains(text, l) {
				text = strings.TrimSpace(text + " " + l)
			}
		}
	}
	prefix := fmt.Sprintf("[%s] ", ts.Format("15:04:05"))
	switch _, nick, private := strings.Cut(e.To, "/"); {
	case e.Direction == Room && private:
		who += " → " + nick + " (private)"
	case e.Direction != Room:
		who += " → " + bareOf(e.To)
	}
	if strings.HasPrefix(text, "/me ") {
		fmt.Fprintf(t.w, "%s* %s %s\n", prefix, who, indent(strings.TrimPrefix(text, "/me "), len(prefix)))
	} else {
		fmt.Fprintf(t.w, "%s%s: %s\n", prefix, who, indent(text, len(prefix)))
	}
	return nil
}

// Close flushes the transcript.
func (t *TranscriptWriter) Close() error { return t.w.Flush() }

// speaker names who wrote e: a room message by nickname, others by bare
// JID.
func speaker(e Entry) string {
	if e.Direction == Room {
		if _, nick, ok := strings.Cut(e.From, "/"); ok {
			return nick
		}
	}
	return bareOf(e.From)
}

// indent continues the lines of a multi-line text under its first.
func indent(s string, n int) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+strings.Repeat(" ", n))
}
