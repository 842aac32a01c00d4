package main

import "time"

// snapshot is the state of the clock, the server and the generator at
// one moment.
type snapshot struct {
	at     time.Time
	server procUsage // zero without -pid
	client time.Duration
}

// meter takes snapshots around a measured phase.
type meter struct {
	pid int // 0: no server statistics
}

func (m meter) sample() (snapshot, error) {
	s := snapshot{at: time.Now()}
	if m.pid > 0 {
		u, err := readProc(m.pid)
		if err != nil {
			return s, err
		}
		s.server = u
	}
	c, err := ownCPU()
	if err != nil {
		return s, err
	}
	s.client = c
	return s, nil
}

// phase is what happened between two snapshots.
type phase struct {
	duration  time.Duration
	serverCPU time.Duration
	clientCPU time.Duration
	serverRSS int64 // KiB, at the end
}

func between(a, b snapshot) phase {
	return phase{
		duration:  b.at.Sub(a.at),
		serverCPU: b.server.cpu - a.server.cpu,
		clientCPU: b.client - a.client,
		serverRSS: b.server.rssKiB,
	}
}

// perCPU returns work per server CPU second, or 0 without CPU figures.
func (p phase) perCPU(work float64) float64 {
	if p.serverCPU <= 0 {
		return 0
	}
	return work / p.serverCPU.Seconds()
}

// perSecond returns work per wall-clock second of the phase.
func (p phase) perSecond(work float64) float64 {
	if p.duration <= 0 {
		return 0
	}
	return work / p.duration.Seconds()
}
