package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeFlag(t *testing.T) {
	cases := []struct {
		value   string
		end     bool
		want    time.Time
		wantErr string
	}{
		{value: "", want: time.Time{}},
		{value: "2026-12-05", want: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)},
		{value: "2026-12-05", end: true, want: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)},
		{value: "2026-12-05T14:30:00+01:00", want: time.Date(2026, 12, 5, 13, 30, 0, 0, time.UTC)},
		{value: "yesterday", wantErr: `-since: "yesterday" is neither a date`},
		{value: "2026-13-01", wantErr: `-since: "2026-13-01"`},
	}
	for _, c := range cases {
		got, err := parseTimeFlag("since", c.value, c.end)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: error %v, want %q", c.value, err, c.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %v, %v; want %v", c.value, got, err, c.want)
		}
	}
}
