package muc

import (
	"context"
	"encoding/json"
	"fmt"

	"parley/stanza"
	"parley/storage"
)

// storedConfig is what storage.MUCRoom.Config holds.
type storedConfig struct {
	Config  RoomConfig `json:"config"`
	Creator string     `json:"creator,omitempty"`
}

// load brings the stored rooms of the service into memory, with their
// affiliations and, for logged rooms, their recent history.
func (s *Service) load(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	stored, err := s.store.MUCRooms(ctx, s.domain)
	if err != nil {
		return fmt.Errorf("load group-chat rooms: %w", err)
	}
	for _, sr := range stored {
		j, err := s.r.ParseJID(sr.JID)
		if err != nil || j.Localpart() == "" {
			s.log.Error().Str("room", sr.JID).Msg("skipping stored group-chat room with an invalid JID")
			continue
		}
		var sc storedConfig
		if err := json.Unmarshal(sr.Config, &sc); err != nil {
			return fmt.Errorf("load group-chat room %s: decode configuration: %w", sr.JID, err)
		}
		r := newRoom(s, j, sc.Config.clamp(s.policy))
		r.creator = sc.Creator
		r.created = sr.Created
		r.subject, r.subjectBy = sr.Subject, sr.SubjectBy
		r.stored = true
		affs, err := s.store.MUCAffiliations(ctx, sr.JID)
		if err != nil {
			return fmt.Errorf("load group-chat room %s: %w", sr.JID, err)
		}
		for _, a := range affs {
			if aff, ok := ParseAffiliation(a.Affiliation); ok && aff != NoAffiliation {
				r.affs[a.JID] = affEntry{aff: aff, reason: a.Reason}
			}
		}
		if r.cfg.Logging && r.cfg.HistoryLength > 0 {
			msgs, err := s.store.MUCHistory(ctx, sr.JID, r.cfg.HistoryLength)
			if err != nil {
				return fmt.Errorf("load group-chat room %s: %w", sr.JID, err)
			}
			for _, m := range msgs {
				el, err := stanza.ParseBytes(m.Stanza)
				if err != nil {
					s.log.Error().Err(err).Str("room", sr.JID).Int64("id", m.ID).Msg("skipping unreadable stored group-chat message")
					continue
				}
				r.history.add(newHistoryEntry(el, m.Stamp, r.addr))
			}
		}
		r.publishSummary()
		s.rooms[r.name] = r
	}
	if len(stored) > 0 {
		s.log.Info().Int("rooms", len(stored)).Msg("loaded persistent group-chat rooms")
	}
	return nil
}

// saveRoom stores a room's configuration and subject.
func (s *Service) saveRoom(ctx context.Context, r *room) bool {
	if s.store == nil {
		return false
	}
	data, err := json.Marshal(storedConfig{Config: r.cfg, Creator: r.creator})
	if err == nil {
		err = s.store.PutMUCRoom(ctx, storage.MUCRoom{
			JID: r.addr, Config: data, Subject: r.subject, SubjectBy: r.subjectBy, Created: r.created,
		})
	}
	if err != nil {
		s.log.Error().Err(err).Str("room", r.addr).Msg("storing group-chat room failed")
		return false
	}
	return true
}

// saveRoomAll stores a room that was not stored yet, with every
// affiliation; it reports whether the room is now stored.
func (s *Service) saveRoomAll(ctx context.Context, r *room) bool {
	if !s.saveRoom(ctx, r) {
		return false
	}
	for bare, a := range r.affs {
		if !s.saveAffiliation(ctx, r, bare, a.aff, a.reason) {
			return false
		}
	}
	return true
}

// saveAffiliation stores one affiliation of a stored room.
func (s *Service) saveAffiliation(ctx context.Context, r *room, bare string, a Affiliation, reason string) bool {
	if s.store == nil {
		return false
	}
	err := s.store.SetMUCAffiliation(ctx, r.addr, storage.MUCAffiliation{JID: bare, Affiliation: a.String(), Reason: reason})
	if err != nil {
		s.log.Error().Err(err).Str("room", r.addr).Msg("storing group-chat affiliation failed")
		return false
	}
	return true
}

// forgetRoom deletes a room from storage, with its affiliations and
// history.
func (s *Service) forgetRoom(ctx context.Context, r *room) {
	if s.store == nil {
		return
	}
	if err := s.store.DeleteMUCRoom(ctx, r.addr); err != nil {
		s.log.Error().Err(err).Str("room", r.addr).Msg("deleting group-chat room failed")
	}
}
