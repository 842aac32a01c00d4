package main

import (
	"bytes"
	"encoding/json"
	"math"
)

// record is a JSON object that keeps its keys in insertion order, so the
// output line reads scenario first.
type record struct {
	keys []string
	vals map[string]any
}

func newRecord() *record { return &record{vals: make(map[string]any)} }

// set adds or replaces a field; float64 values are rounded to 3 decimals.
func (r *record) set(key string, v any) *record {
	if f, ok := v.(float64); ok {
		v = round3(f)
	}
	if _, ok := r.vals[key]; !ok {
		r.keys = append(r.keys, key)
	}
	r.vals[key] = v
	return r
}

// get returns a field's value (for tests and aggregation).
func (r *record) get(key string) any { return r.vals[key] }

// MarshalJSON implements json.Marshaler.
func (r *record) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range r.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(r.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func round3(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*1000) / 1000
}

// setPhase adds the fields every scenario reports about its measured
// phase.
func (r *record) setPhase(p phase, errors int64) *record {
	return r.set("duration_s", p.duration.Seconds()).
		set("server_cpu_s", p.serverCPU.Seconds()).
		set("client_cpu_s", p.clientCPU.Seconds()).
		set("server_rss_kib", p.serverRSS).
		set("errors", errors)
}
