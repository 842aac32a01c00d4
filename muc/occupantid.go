package muc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"parley/stanza"
)

// OccupantIDKeySize is the size in bytes of the key occupant IDs are
// derived with.
const OccupantIDKeySize = 32

// occupantID returns the XEP-0421 occupant ID of the user with real bare
// JID bare in room: an HMAC-SHA256 of both JIDs under the service's key,
// so that it is the same whenever the user enters the room, whatever the
// nick, differs between rooms and between users, and tells nothing about
// the JID to whoever does not hold the key.
func (s *Service) occupantID(room, bare string) string {
	m := hmac.New(sha256.New, s.occupantIDKey)
	m.Write([]byte(room))
	m.Write([]byte{0}) // no JID holds a NUL, so the pair is unambiguous
	m.Write([]byte(bare))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// occupantIDElement is the <occupant-id/> the room adds to every presence
// and message from the user with real bare JID bare; built once per
// occupant and shared by every stanza about it.
func (r *room) occupantIDElement(bare string) *stanza.Element {
	return stanza.New(NSOccupantID, "occupant-id", "id", r.svc.occupantID(r.addr, bare))
}

// isOccupantID reports whether n is an <occupant-id/>, which only the
// room may give (XEP-0421 §6): one a client sent is dropped.
func isOccupantID(n stanza.Node) bool {
	c, ok := n.(*stanza.Element)
	return ok && c.Space == NSOccupantID
}

// LoadOccupantIDKey reads the occupant ID key kept in file, making and
// storing a new one if the file does not exist yet, so that occupant IDs
// stay the same across restarts.
func LoadOccupantIDKey(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) != OccupantIDKeySize {
			return nil, fmt.Errorf("occupant ID key %s: not %d hexadecimal digits (remove the file to make a new key, which changes every occupant ID)", file, 2*OccupantIDKeySize)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("occupant ID key: %w", err)
	}
	key := make([]byte, OccupantIDKeySize)
	rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return nil, fmt.Errorf("occupant ID key: %w", err)
	}
	// Written aside and renamed, so that a crash never leaves a partial
	// key behind.
	tmp, err := os.CreateTemp(filepath.Dir(file), ".occupant-id-key-*")
	if err != nil {
		return nil, fmt.Errorf("occupant ID key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return nil, fmt.Errorf("occupant ID key: %w", err)
	}
	return key, nil
}
