package main

import (
	"fmt"
	"time"
)

// parseTimeFlag reads the value of a time flag such as -since: an RFC 3339
// time ("2026-12-05T14:00:00Z") or a date ("2026-12-05", UTC), which
// stands for the start of the day, or with endOfDay (for -until) for its
// end. An error names the flag.
func parseTimeFlag(flag, value string, endOfDay bool) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse("2006-01-02", value)
	if err != nil {
		return time.Time{}, fmt.Errorf("-%s: %q is neither a date (2026-12-05) nor an RFC 3339 time (2026-12-05T14:00:00Z)", flag, value)
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}
