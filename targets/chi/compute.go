package main

import (
	"cmp"
	"net/url"
	"slices"
)

// Limits and constants of GET /compute/rank (targets/README.md, "The compute
// kernel").
const (
	computeDefaultRounds = 64
	computeDefaultTop    = 10
	computeMaxRounds     = 1000
	computeMaxTop        = 100
	computeGolden        = 2654435761 // 0x9E3779B1: Knuth's multiplicative hash
	computeZeroSeed      = 2654435769 // 0x9E3779B9: replaces a zero state, which xorshift cannot leave
)

type computeParams struct {
	seed   uint32
	rounds int
	top    int
}

type rankedUser struct {
	ID    int    `json:"id"`
	Score uint32 `json:"score"`
}

// computeResult is the 200 answer; field order is the key order of the
// contract.
type computeResult struct {
	Seed     uint32       `json:"seed"`
	Rounds   int          `json:"rounds"`
	Matched  int          `json:"matched"`
	Checksum uint32       `json:"checksum"`
	Top      []rankedUser `json:"top"`
}

// parseComputeParams reads seed, rounds and top in the contract's order and
// returns the parameters, or the name of the first invalid one. An absent
// parameter takes its default; a present one, even empty, must be valid.
// Only the first value of a repeated parameter counts, as url.Values.Get.
func parseComputeParams(q url.Values) (computeParams, string) {
	p := computeParams{rounds: computeDefaultRounds, top: computeDefaultTop}
	if v, ok := q["seed"]; ok {
		n, ok := decimalIn(v[0], 0, 1<<32-1)
		if !ok {
			return p, "seed"
		}
		p.seed = uint32(n)
	}
	if v, ok := q["rounds"]; ok {
		n, ok := decimalIn(v[0], 1, computeMaxRounds)
		if !ok {
			return p, "rounds"
		}
		p.rounds = int(n)
	}
	if v, ok := q["top"]; ok {
		n, ok := decimalIn(v[0], 1, computeMaxTop)
		if !ok {
			return p, "top"
		}
		p.top = int(n)
	}
	return p, ""
}

// decimalIn parses raw as ASCII digits only (no sign, no blanks; leading
// zeros are fine) with a value in lo..hi. As in store.lookup, the scan stops
// as soon as the value passes hi, so no input can overflow (hi < 2^32 and
// the accumulator is 64-bit).
func decimalIn(raw string, lo, hi uint64) (uint64, bool) {
	if raw == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > hi {
			return 0, false
		}
	}
	return n, n >= lo
}

// computeScore is user id's score: its start state, then rounds of
// xorshift32. Go's uint32 arithmetic wraps mod 2^32, which is the contract's
// arithmetic, so no masking is needed.
func computeScore(seed uint32, id uint32, rounds int) uint32 {
	x := seed ^ id*computeGolden
	if x == 0 {
		x = computeZeroSeed
	}
	for range rounds {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
	}
	return x
}

// rank runs the kernel over the store's active users: matched is how many,
// checksum the sum of their scores mod 2^32, top the highest scores, ties to
// the lower id, from a full sort of all of them (no partial selection).
func (s store) rank(p computeParams) computeResult {
	res := computeResult{Seed: p.seed, Rounds: p.rounds}
	all := make([]rankedUser, 0, userCount)
	for id := 1; id <= userCount; id++ {
		if !s[id].Active {
			continue
		}
		score := computeScore(p.seed, uint32(id), p.rounds)
		res.Checksum += score
		all = append(all, rankedUser{ID: id, Score: score})
	}
	res.Matched = len(all)
	slices.SortFunc(all, func(a, b rankedUser) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	res.Top = all[:min(p.top, len(all))]
	return res
}
