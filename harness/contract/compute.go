package contract

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
)

// The compute kernel (GET /compute/rank?seed=S&rounds=R&top=K) is the
// contract's CPU-bound request: score every active user of the store with R
// rounds of xorshift32 started from the seed and the user's id, and rank
// them. It is integer work in 32 bits that every target's language does
// natively (no big integers, no floating point, no C library), so the same
// algorithm costs what the language costs. targets/README.md states it for
// implementers; this is the reference `harness verify` checks against.
const (
	ComputeDefaultRounds = 64
	ComputeDefaultTop    = 10
	ComputeMaxRounds     = 1000
	ComputeMaxTop        = 100
	computeGolden        = 2654435761 // 0x9E3779B1: Knuth's multiplicative hash
	computeZeroSeed      = 0x9E3779B9 // replaces a zero state, which xorshift cannot leave
)

// ComputeParams are the kernel's query parameters.
type ComputeParams struct {
	Seed   uint32
	Rounds int
	Top    int
}

// RankedUser is one entry of the ranking.
type RankedUser struct {
	ID    int    `json:"id"`
	Score uint32 `json:"score"`
}

// ComputeResult is the answer; field order is the serialisation order.
type ComputeResult struct {
	Seed     uint32       `json:"seed"`
	Rounds   int          `json:"rounds"`
	Matched  int          `json:"matched"`
	Checksum uint32       `json:"checksum"`
	Top      []RankedUser `json:"top"`
}

// ParseComputeParams reads seed (0..2^32-1, default 0), rounds (1..1000,
// default 64) and top (1..100, default 10); any other value is an error,
// answered 422.
func ParseComputeParams(q url.Values) (ComputeParams, error) {
	p := ComputeParams{Rounds: ComputeDefaultRounds, Top: ComputeDefaultTop}
	if v := q.Get("seed"); v != "" || q.Has("seed") {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, fmt.Errorf("seed")
		}
		p.Seed = uint32(n)
	}
	for _, f := range []struct {
		name string
		dst  *int
		max  int
	}{{"rounds", &p.Rounds, ComputeMaxRounds}, {"top", &p.Top, ComputeMaxTop}} {
		if !q.Has(f.name) {
			continue
		}
		n, err := strconv.Atoi(q.Get(f.name))
		if err != nil || n < 1 || n > f.max || q.Get(f.name)[0] == '+' {
			return p, fmt.Errorf("%s", f.name)
		}
		*f.dst = n
	}
	return p, nil
}

// ComputeScore is user id's score: its start state, then rounds of xorshift32.
func ComputeScore(seed uint32, id, rounds int) uint32 {
	x := seed ^ uint32(uint64(id)*computeGolden)
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

// Compute runs the kernel over the store's active users: matched is how
// many, checksum the sum of their scores mod 2^32, top the highest scores,
// ties to the lower id, from a full sort (the same algorithm everywhere).
func Compute(p ComputeParams) ComputeResult {
	res := ComputeResult{Seed: p.Seed, Rounds: p.Rounds}
	all := make([]RankedUser, 0, UserCount)
	for id := 1; id <= UserCount; id++ {
		if !userActive(id) {
			continue
		}
		s := ComputeScore(p.Seed, id, p.Rounds)
		res.Checksum += s
		all = append(all, RankedUser{ID: id, Score: s})
	}
	res.Matched = len(all)
	sort.Slice(all, func(i, j int) bool {
		return all[i].Score > all[j].Score || all[i].Score == all[j].Score && all[i].ID < all[j].ID
	})
	res.Top = all[:min(p.Top, len(all))]
	return res
}

// ComputeJSON is the canonical encoding of Compute(p).
func ComputeJSON(p ComputeParams) []byte {
	b, err := json.Marshal(Compute(p))
	if err != nil {
		panic(fmt.Sprintf("marshal compute result: %v", err)) // plain structs cannot fail
	}
	return b
}

// userActive is NewUser(id).Active without building the record.
func userActive(id int) bool { return id%7 != 0 }
